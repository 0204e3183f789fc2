/**
 * The generic idempotency() middleware (functions/_shared/idempotency) against the real
 * database (api.idempotency_begin/complete/abandon as tollgate_api): what the AI proxy relies
 * on. A small app with the shared base, real auth and a handler we can hold open.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import type { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { auth, type AuthEnv } from "../../functions/_shared/auth/middleware/index.ts";
import { parseConfig } from "../../functions/_shared/config.ts";
import { createBaseApp } from "../../functions/_shared/http/app.ts";
import { ApiError } from "../../functions/_shared/http/errors.ts";
import { createSqlIdempotencyStore, idempotency } from "../../functions/_shared/idempotency/mod.ts";
import { createLogger } from "../../functions/_shared/log/logger.ts";
import { newUser } from "../support/auth.ts";
import { testEnv } from "../support/env.ts";

type User = Awaited<ReturnType<typeof newUser>>;

interface Harness {
  app: Hono;
  runs: () => number;
  /** Requests to /slow wait until this resolves. */
  hold: () => () => void;
  close: () => Promise<void>;
}

function harness(): Harness {
  const sql = postgres(testEnv("TEST_API_DB_URL"), { max: 4, prepare: false, onnotice: () => {} });
  const config = parseConfig({
    ...Deno.env.toObject(),
    TOLLGATE_DB_URL: testEnv("TEST_API_DB_URL"),
  });
  const app = createBaseApp("idem", { config, logger: createLogger({ level: "error" }) });
  const a = app as unknown as Hono<AuthEnv>;
  const store = createSqlIdempotencyStore(sql);
  let runs = 0;
  let gate: Promise<void> = Promise.resolve();
  a.use("*", auth());
  a.use("*", idempotency({ store }));
  a.post("/work", async (c) => {
    runs++;
    await gate;
    const body = await c.req.json();
    return c.json({ run: runs, echo: body }, 201);
  });
  a.post("/fail", (c) => {
    runs++;
    const body = c.req.header("x-fail");
    if (body === "402") throw new ApiError("INSUFFICIENT_CREDITS", "short");
    return c.json({ run: runs });
  });
  a.post("/stream", (c) => {
    runs++;
    return streamSSE(c, async (s) => {
      await s.writeSSE({ data: "one" });
      await s.writeSSE({ data: "[DONE]" });
    });
  });
  a.post("/binary", (c) => {
    runs++;
    return c.body(new Uint8Array([0, 1, 2, 255]), 200, { "content-type": "audio/mpeg" });
  });
  return {
    app: app as unknown as Hono,
    runs: () => runs,
    hold: () => {
      let release!: () => void;
      gate = new Promise((r) => (release = r));
      return release;
    },
    close: () => sql.end(),
  };
}

function req(
  h: Harness,
  user: User,
  path: string,
  key: string | null,
  body = '{"a":1}',
  extra: Record<string, string> = {},
) {
  const headers: Record<string, string> = {
    ...user.headers,
    "content-type": "application/json",
    ...extra,
  };
  if (key !== null) headers["idempotency-key"] = key;
  return h.app.request(`/idem${path}`, { method: "POST", headers, body });
}

Deno.test("idempotency middleware: replay, 422, per-account, no key", async () => {
  const h = harness();
  try {
    const user = await newUser();
    const first = await req(h, user, "/work", "k1");
    assert.equal(first.status, 201);
    const firstText = await first.text();
    const replay = await req(h, user, "/work", "k1");
    assert.equal(replay.status, 201);
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.equal(replay.headers.get("content-type"), "application/json");
    assert.ok(replay.headers.get("x-request-id"), "a replay is still a request of its own");
    assert.equal(await replay.text(), firstText);
    assert.equal(h.runs(), 1);

    const reused = await req(h, user, "/work", "k1", '{"a":2}');
    assert.equal(reused.status, 422);
    assert.equal((await reused.json()).error.code, "IDEMPOTENCY_KEY_REUSED");

    const other = await newUser();
    const theirs = await req(h, other, "/work", "k1");
    assert.equal(theirs.status, 201);
    assert.equal(theirs.headers.get("idempotent-replayed"), null);
    await theirs.body?.cancel();
    assert.equal(h.runs(), 2);

    await (await req(h, user, "/work", null)).body?.cancel();
    await (await req(h, user, "/work", null)).body?.cancel();
    assert.equal(h.runs(), 4, "without a key every request runs");

    const bad = await req(h, user, "/work", "\u0007bell");
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
  } finally {
    await h.close();
  }
});

Deno.test("idempotency middleware: 409 IDEMPOTENCY_KEY_IN_USE while the first runs, then replay", async () => {
  const h = harness();
  try {
    const user = await newUser();
    const release = h.hold();
    const first = req(h, user, "/work", "slow");
    // Wait until the first request has claimed the key and is inside the handler.
    for (let i = 0; i < 100 && h.runs() === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(h.runs(), 1);
    const second = await req(h, user, "/work", "slow");
    assert.equal(second.status, 409);
    assert.equal((await second.json()).error.code, "IDEMPOTENCY_KEY_IN_USE");
    release();
    const done = await first;
    assert.equal(done.status, 201);
    const doneText = await done.text();
    const third = await req(h, user, "/work", "slow");
    assert.equal(third.headers.get("idempotent-replayed"), "true");
    assert.equal(await third.text(), doneText);
    assert.equal(h.runs(), 1);
  } finally {
    await h.close();
  }
});

Deno.test("idempotency middleware: an error response abandons the key; a retry runs again", async () => {
  const h = harness();
  try {
    const user = await newUser();
    const failed = await req(h, user, "/fail", "f1", "{}", { "x-fail": "402" });
    assert.equal(failed.status, 402);
    await failed.body?.cancel();
    const retried = await req(h, user, "/fail", "f1", "{}", { "x-fail": "402" });
    assert.equal(retried.status, 402, "not a replay: it ran again");
    assert.equal(retried.headers.get("idempotent-replayed"), null);
    await retried.body?.cancel();
    assert.equal(h.runs(), 2);
    const ok = await req(h, user, "/fail", "f1", "{}", { "x-fail": "402" });
    await ok.body?.cancel();
    assert.equal(h.runs(), 3);
  } finally {
    await h.close();
  }
});

Deno.test("idempotency middleware: a streamed first answer is never re-run (409 not_replayable)", async () => {
  const h = harness();
  try {
    const user = await newUser();
    const first = await req(h, user, "/stream", "s1", "{}");
    assert.equal(first.status, 200);
    assert.match(await first.text(), /\[DONE\]/);
    const again = await req(h, user, "/stream", "s1", "{}");
    assert.equal(again.status, 409);
    const body = await again.json();
    assert.equal(body.error.code, "CONFLICT");
    assert.equal(body.error.details.reason, "not_replayable");
    assert.equal(h.runs(), 1);
  } finally {
    await h.close();
  }
});

Deno.test("idempotency middleware: binary bodies replay byte for byte", async () => {
  const h = harness();
  try {
    const user = await newUser();
    const first = await req(h, user, "/binary", "b1", "{}");
    assert.deepEqual(new Uint8Array(await first.arrayBuffer()), new Uint8Array([0, 1, 2, 255]));
    const again = await req(h, user, "/binary", "b1", "{}");
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.equal(again.headers.get("content-type"), "audio/mpeg");
    assert.deepEqual(new Uint8Array(await again.arrayBuffer()), new Uint8Array([0, 1, 2, 255]));
    assert.equal(h.runs(), 1);
  } finally {
    await h.close();
  }
});

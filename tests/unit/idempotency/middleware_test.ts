/** idempotency() with an in-memory store that behaves like api.idempotency_begin. */
import assert from "node:assert/strict";
import type { Hono } from "hono";
import { createBaseApp } from "../../../functions/_shared/http/app.ts";
import { ApiError } from "../../../functions/_shared/http/errors.ts";
import {
  type BeginResult,
  idempotency,
  type IdempotencyEnv,
  type IdempotencyOptions,
  type IdempotencyStore,
  type StoredResponse,
} from "../../../functions/_shared/idempotency/mod.ts";
import { captureLogger, testConfig } from "../http/helpers.ts";

interface Entry {
  hash: string;
  done: boolean;
  status?: number;
  response?: StoredResponse;
}

function memoryStore(): IdempotencyStore & { entries: Map<string, Entry>; calls: string[] } {
  const entries = new Map<string, Entry>();
  const calls: string[] = [];
  return {
    entries,
    calls,
    begin(account, key, hash): Promise<BeginResult> {
      calls.push("begin");
      const id = `${account}/${key}`;
      const e = entries.get(id);
      if (!e) {
        entries.set(id, { hash, done: false });
        return Promise.resolve({ state: "started" });
      }
      if (e.hash !== hash) throw new ApiError("IDEMPOTENCY_KEY_REUSED", "reused");
      if (!e.done) throw new ApiError("IDEMPOTENCY_KEY_IN_USE", "in use");
      return Promise.resolve({ state: "replay", status: e.status!, response: e.response! });
    },
    complete(account, key, status, response) {
      calls.push("complete");
      const e = entries.get(`${account}/${key}`);
      if (!e) return Promise.resolve(false);
      Object.assign(e, { done: true, status, response });
      return Promise.resolve(true);
    },
    abandon(account, key) {
      calls.push("abandon");
      return Promise.resolve(entries.delete(`${account}/${key}`));
    },
  };
}

function app(store: IdempotencyStore, options: Omit<IdempotencyOptions, "store"> = {}) {
  const base = createBaseApp("t", { config: testConfig(), logger: captureLogger().logger });
  const a = base as unknown as Hono<IdempotencyEnv>;
  let runs = 0;
  a.use("*", async (c, next) => {
    c.set("account", c.req.header("x-account") ?? "acct-1");
    c.set("deviceId", c.req.header("x-device-id") ?? null);
    await next();
  });
  a.use("*", idempotency({ store, ...options }));
  a.post("/ok", async (c) => c.json({ run: ++runs, body: await c.req.json() }, 201));
  a.post("/boom", () => {
    runs++;
    throw new ApiError("INSUFFICIENT_CREDITS", "short");
  });
  a.post("/crash", () => {
    runs++;
    throw new Error("bug");
  });
  a.get("/read", (c) => c.json({ key: c.var.idempotencyKey, run: ++runs }));
  const send = (path: string, key?: string, body = "{}", extra: Record<string, string> = {}) =>
    base.request(`/t${path}`, {
      method: path === "/read" ? "GET" : "POST",
      headers: {
        "content-type": "application/json",
        ...(key ? { "idempotency-key": key } : {}),
        ...extra,
      },
      body: path === "/read" ? undefined : body,
    });
  return { send, runs: () => runs };
}

Deno.test("idempotency(): first run is stored, the repeat is replayed without running", async () => {
  const store = memoryStore();
  const t = app(store);
  const a = await t.send("/ok", "k", '{"x":1}');
  assert.equal(a.status, 201);
  assert.equal(a.headers.get("idempotent-replayed"), null);
  const b = await t.send("/ok", "k", '{"x":1}');
  assert.equal(b.status, 201);
  assert.equal(b.headers.get("idempotent-replayed"), "true");
  assert.deepEqual(await b.json(), await a.json());
  assert.equal(t.runs(), 1);
  assert.deepEqual(store.calls, ["begin", "complete", "begin"], "a replay is one store call");
});

Deno.test("idempotency(): other body 422, in progress 409, errors map through the envelope", async () => {
  const store = memoryStore();
  const t = app(store);
  await t.send("/ok", "k", '{"x":1}');
  const reused = await t.send("/ok", "k", '{"x":2}');
  assert.equal(reused.status, 422);
  assert.equal((await reused.json()).error.code, "IDEMPOTENCY_KEY_REUSED");
  store.entries.set("acct-1/busy", { hash: "whatever", done: false });
  const busy = await t.send("/ok", "busy", '{"x":1}');
  assert.equal(busy.status, 422, "another hash wins over in-progress");
  await busy.body?.cancel();
});

Deno.test("idempotency(): keys are per account and bound to extra hash parts", async () => {
  const store = memoryStore();
  const t = app(store, { hashParts: (c) => [c.req.header("x-device-id") ?? ""] });
  await (await t.send("/ok", "k", "{}", { "x-account": "a" })).body?.cancel();
  const b = await t.send("/ok", "k", "{}", { "x-account": "b" });
  assert.equal(b.headers.get("idempotent-replayed"), null);
  await b.body?.cancel();
  assert.equal(t.runs(), 2);
  const device = await t.send("/ok", "k", "{}", { "x-account": "a", "x-device-id": "d2" });
  assert.equal(device.status, 422);
  await device.body?.cancel();
});

Deno.test("idempotency(): error answers and crashes abandon the claim", async () => {
  const store = memoryStore();
  const t = app(store);
  const e1 = await t.send("/boom", "e");
  assert.equal(e1.status, 402);
  await e1.body?.cancel();
  const e2 = await t.send("/boom", "e");
  assert.equal(e2.status, 402);
  await e2.body?.cancel();
  assert.equal(t.runs(), 2, "a failed request can be retried with its key");
  const c1 = await t.send("/crash", "c");
  assert.equal(c1.status, 500);
  await c1.body?.cancel();
  assert.equal(store.entries.has("acct-1/c"), false);
});

Deno.test("idempotency(): no key runs normally; required → 400; malformed → 400; GET untouched", async () => {
  const store = memoryStore();
  const t = app(store);
  await (await t.send("/ok")).body?.cancel();
  await (await t.send("/ok")).body?.cancel();
  assert.equal(t.runs(), 2);
  const bad = await t.send("/ok", "bad\u0001key");
  assert.equal(bad.status, 400);
  await bad.body?.cancel();
  const read = await t.send("/read", "k");
  assert.deepEqual(await read.json(), { key: null, run: 3 });
  assert.equal(store.calls.length, 0, "no store call without a (POST) key");

  const strict = app(memoryStore(), { required: true });
  const missing = await strict.send("/ok");
  assert.equal(missing.status, 400);
  assert.equal((await missing.json()).error.code, "VALIDATION_FAILED");
});

Deno.test("idempotency(): storable() decides what is recorded", async () => {
  const store = memoryStore();
  const t = app(store, { storable: (s) => s === 201 || s === 402 });
  await (await t.send("/boom", "x")).body?.cancel();
  const again = await t.send("/boom", "x");
  assert.equal(again.status, 402);
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  assert.equal((await again.json()).error.code, "INSUFFICIENT_CREDITS");
  assert.equal(t.runs(), 1);
});

Deno.test("idempotency(): a store failure on complete still answers", async () => {
  const store = memoryStore();
  store.complete = () => Promise.reject(new Error("db down"));
  const t = app(store);
  const res = await t.send("/ok", "k");
  assert.equal(res.status, 201);
  await res.body?.cancel();
});

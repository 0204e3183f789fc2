import assert from "node:assert/strict";
import { Hono } from "hono";
import {
  FlagCache,
  type FlagState,
  MAX_FLAG_CACHE_MS,
  parseMaintenanceDetail,
} from "../../../functions/_shared/flags/flags.ts";
import { requireFlag } from "../../../functions/_shared/flags/middleware.ts";

function flag(name: string, enabled: boolean): FlagState {
  return {
    name,
    enabled,
    reason: null,
    retryAfterSeconds: 90,
    updatedAt: new Date(0),
    updatedBy: "test",
  };
}

/** A fake database whose ai.chat flag the test flips, with a controllable clock. */
function fixture() {
  const db = { chat: true, loads: 0 };
  let now = 1_000_000;
  const cache = new FlagCache({
    load: () => {
      db.loads++;
      return Promise.resolve([flag("ai.chat", db.chat), flag("purchases", true)]);
    },
    now: () => now,
  });
  return { db, cache, advance: (ms: number) => (now += ms) };
}

Deno.test("a flag switched off takes effect within 5 s, not before the TTL and not after", async () => {
  const { db, cache, advance } = fixture();
  assert.equal(await cache.isEnabled("ai.chat"), true);
  db.chat = false;
  advance(MAX_FLAG_CACHE_MS - 1);
  assert.equal(await cache.isEnabled("ai.chat"), true, "still the cached snapshot");
  advance(1);
  assert.equal(await cache.isEnabled("ai.chat"), false, "reloaded at 5 s");
  assert.equal(db.loads, 2);
});

Deno.test("concurrent lookups share one load", async () => {
  const { db, cache } = fixture();
  await Promise.all([cache.get("ai.chat"), cache.get("purchases"), cache.isEnabled("ai.chat")]);
  assert.equal(db.loads, 1);
});

Deno.test("an unknown flag name throws instead of reading as enabled", async () => {
  const { cache } = fixture();
  await assert.rejects(() => cache.isEnabled("ai.caht"), /unknown feature flag/);
});

Deno.test("a TTL above 5 s is refused", () => {
  assert.throws(() => new FlagCache({ load: () => Promise.resolve([]), ttlMs: 5_001 }), /TTL/);
});

Deno.test("invalidate forces the next lookup to reload", async () => {
  const { db, cache } = fixture();
  await cache.get("ai.chat");
  db.chat = false;
  cache.invalidate();
  assert.equal(await cache.isEnabled("ai.chat"), false);
});

Deno.test("a failed load is not cached: the next lookup tries again", async () => {
  let fail = true;
  const cache = new FlagCache({
    load: () =>
      fail ? Promise.reject(new Error("db down")) : Promise.resolve([flag("ai.chat", true)]),
  });
  await assert.rejects(() => cache.get("ai.chat"), /db down/);
  fail = false;
  assert.equal(await cache.isEnabled("ai.chat"), true);
});

Deno.test("requireFlag answers with Retry-After while the flag is off", async () => {
  const { db, cache } = fixture();
  db.chat = false;
  const app = new Hono();
  app.onError((err, c) => c.json({ error: { code: err.message } }, 503));
  app.use(
    "*",
    requireFlag({
      name: "ai.chat",
      cache,
      onMaintenance: () => {
        throw new Error("MAINTENANCE");
      },
    }),
  );
  app.get("/", (c) => c.text("charged"));
  const res = await app.request("/");
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("Retry-After"), "90");
  assert.deepEqual(await res.json(), { error: { code: "MAINTENANCE" } });
});

Deno.test("parseMaintenanceDetail reads ops.require_flag's detail", () => {
  assert.deepEqual(parseMaintenanceDetail(`{"flag" : "ai.chat", "retry_after" : 120}`), {
    flag: "ai.chat",
    retry_after: 120,
  });
  assert.equal(parseMaintenanceDetail("off"), null);
  assert.equal(parseMaintenanceDetail(`{"flag":"ai.chat","retry_after":0}`), null);
  assert.equal(parseMaintenanceDetail(undefined), null);
});

import assert from "node:assert/strict";
import { Hono } from "hono";
import type { RateLimitDecision } from "../../../functions/_shared/ratelimit/decision.ts";
import { rateLimit } from "../../../functions/_shared/ratelimit/middleware.ts";
import {
  DEFAULT_POLICIES,
  type RateLimitPolicy,
} from "../../../functions/_shared/ratelimit/policies.ts";
import type { RateLimitTaker } from "../../../functions/_shared/ratelimit/take.ts";

/** An in-memory stand-in for api.rate_limit_take: admits `quota` per key, never refills. */
function countingTaker(): { take: RateLimitTaker; calls: string[] } {
  const used = new Map<string, number>();
  const calls: string[] = [];
  const take: RateLimitTaker = (policy: RateLimitPolicy, key: string) => {
    calls.push(`${policy.name}|${key}`);
    const n = (used.get(key) ?? 0) + 1;
    const allowed = n <= policy.quota;
    if (allowed) used.set(key, n);
    const decision: RateLimitDecision = {
      policy,
      allowed,
      remaining: Math.max(0, policy.quota - (allowed ? n : n - 1)),
      resetSeconds: 60,
      retryAfterSeconds: allowed && n < policy.quota ? 0 : 20,
    };
    return Promise.resolve(decision);
  };
  return { take, calls };
}

function app(taker: RateLimitTaker, enabled = true): Hono {
  const policy = { ...DEFAULT_POLICIES.admin, quota: 2 };
  const app = new Hono();
  app.onError((err, c) => c.json({ error: { code: err.message } }, 429));
  app.use(
    "*",
    rateLimit({
      policy,
      enabled,
      take: taker,
      key: (c) => `ip:${c.req.header("x-test-client") ?? "unknown"}`,
      onLimited: () => {
        throw new Error("RATE_LIMITED");
      },
    }),
  );
  app.get("/", (c) => c.json({ ok: true }));
  return app;
}

Deno.test("the middleware admits exactly the quota, then answers 429 with the headers", async () => {
  const { take, calls } = countingTaker();
  const a = app(take);
  const statuses: number[] = [];
  let last: Response | undefined;
  for (let i = 0; i < 3; i++) {
    last = await a.request("/", { headers: { "x-test-client": "one" } });
    statuses.push(last.status);
    if (i < 2) {
      assert.equal(last.headers.get("RateLimit"), `"admin";r=${1 - i};t=60`);
      assert.equal(last.headers.get("Retry-After"), null);
    }
    await last.body?.cancel();
  }
  assert.deepEqual(statuses, [200, 200, 429]);
  assert.equal(last!.headers.get("RateLimit-Policy"), `"admin";q=2;w=60`);
  assert.equal(last!.headers.get("RateLimit"), `"admin";r=0;t=60`);
  assert.equal(last!.headers.get("Retry-After"), "20");
  assert.deepEqual(calls, ["admin|ip:one", "admin|ip:one", "admin|ip:one"]);
});

Deno.test("the middleware keys per client: another client is not limited", async () => {
  const { take } = countingTaker();
  const a = app(take);
  for (let i = 0; i < 3; i++) {
    await (await a.request("/", { headers: { "x-test-client": "one" } })).body?.cancel();
  }
  const other = await a.request("/", { headers: { "x-test-client": "two" } });
  assert.equal(other.status, 200);
  await other.body?.cancel();
});

Deno.test("with rate limiting disabled the middleware never calls the database", async () => {
  const { take, calls } = countingTaker();
  const a = app(take, false);
  for (let i = 0; i < 5; i++) {
    const res = await a.request("/");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("RateLimit"), null);
    await res.body?.cancel();
  }
  assert.deepEqual(calls, []);
});

import assert from "node:assert/strict";
import { Hono } from "hono";
import type { RateLimitDecision } from "../../../functions/_shared/ratelimit/decision.ts";
import {
  mostRestrictiveDenial,
  parseRateLimitedDetail,
} from "../../../functions/_shared/ratelimit/decision.ts";
import {
  formatRateLimit,
  formatRateLimitPolicy,
  rateLimitHeaders,
  setRateLimitHeaders,
  sfString,
} from "../../../functions/_shared/ratelimit/headers.ts";
import { DEFAULT_POLICIES } from "../../../functions/_shared/ratelimit/policies.ts";

const chat = DEFAULT_POLICIES.chat;

function decision(over: Partial<RateLimitDecision> = {}): RateLimitDecision {
  return {
    policy: chat,
    allowed: true,
    remaining: 12,
    resetSeconds: 41,
    retryAfterSeconds: 0,
    ...over,
  };
}

Deno.test("the IETF field values have the documented shape", () => {
  assert.equal(formatRateLimitPolicy(chat), `"chat";q=60;w=60`);
  assert.equal(formatRateLimit(decision()), `"chat";r=12;t=41`);
  assert.equal(formatRateLimitPolicy(DEFAULT_POLICIES["jobs.start"]), `"jobs.start";q=30;w=60`);
});

Deno.test("sf-strings escape quotes and backslashes and refuse non-ASCII", () => {
  assert.equal(sfString(`a"b\\c`), `"a\\"b\\\\c"`);
  assert.throws(() => sfString("é"));
  assert.throws(() => sfString("a\nb"));
});

Deno.test("an admitted request gets RateLimit fields and no Retry-After", () => {
  assert.deepEqual(rateLimitHeaders([decision()]), {
    "RateLimit-Policy": `"chat";q=60;w=60`,
    "RateLimit": `"chat";r=12;t=41`,
  });
  assert.deepEqual(rateLimitHeaders([]), {});
});

Deno.test("a denied request also gets Retry-After of the longest denial", () => {
  const account = decision({
    policy: DEFAULT_POLICIES["promo.account"],
    allowed: false,
    remaining: 0,
    resetSeconds: 3600,
    retryAfterSeconds: 1200,
  });
  const device = decision({
    policy: DEFAULT_POLICIES["promo.device"],
    allowed: false,
    remaining: 0,
    resetSeconds: 3000,
    retryAfterSeconds: 600,
  });
  assert.deepEqual(rateLimitHeaders([device, account]), {
    "RateLimit-Policy": `"promo.device";q=3;w=3600, "promo.account";q=3;w=3600`,
    "RateLimit": `"promo.device";r=0;t=3000, "promo.account";r=0;t=3600`,
    "Retry-After": "1200",
  });
  assert.equal(mostRestrictiveDenial([device, account]), account);
  assert.equal(mostRestrictiveDenial([decision()]), undefined);
});

Deno.test("Retry-After on a denial is never 0", () => {
  const headers = rateLimitHeaders([
    decision({ allowed: false, remaining: 0, retryAfterSeconds: 0 }),
  ]);
  assert.equal(headers["Retry-After"], "1");
});

Deno.test("non-integer or negative field values are programming errors", () => {
  assert.throws(() => formatRateLimit(decision({ remaining: -1 })));
  assert.throws(() => formatRateLimit(decision({ resetSeconds: 1.5 })));
});

Deno.test("setRateLimitHeaders headers survive an error thrown after them into c.json", async () => {
  const app = new Hono();
  app.onError((_err, c) => c.json({ error: { code: "RATE_LIMITED" } }, 429));
  app.get("/limited", (c) => {
    setRateLimitHeaders(c, decision({ allowed: false, remaining: 0, retryAfterSeconds: 7 }));
    throw new Error("RATE_LIMITED");
  });
  app.get("/ok", (c) => {
    setRateLimitHeaders(c, [decision()]);
    return c.json({ ok: true });
  });
  const limited = await app.request("/limited");
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("RateLimit"), `"chat";r=0;t=41`);
  assert.equal(limited.headers.get("Retry-After"), "7");
  await limited.body?.cancel();
  const ok = await app.request("/ok");
  assert.equal(ok.headers.get("RateLimit-Policy"), `"chat";q=60;w=60`);
  assert.equal(ok.headers.get("Retry-After"), null);
  await ok.body?.cancel();
});

Deno.test("parseRateLimitedDetail reads ops.rate_limit_require's detail and rejects others", () => {
  const detail =
    `{"policy" : "chat", "quota" : 60, "window" : 60, "remaining" : 0, "reset" : 60, "retry_after" : 1}`;
  assert.deepEqual(parseRateLimitedDetail(detail), {
    policy: "chat",
    quota: 60,
    window: 60,
    remaining: 0,
    reset: 60,
    retry_after: 1,
  });
  assert.equal(parseRateLimitedDetail(undefined), null);
  assert.equal(parseRateLimitedDetail("too many requests"), null);
  assert.equal(parseRateLimitedDetail(`{"policy":"chat"}`), null);
  assert.equal(parseRateLimitedDetail("null"), null);
});

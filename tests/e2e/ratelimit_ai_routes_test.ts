/**
 * The per-account limits of issue 6 on the ai routes against the real database: chat 60/min and
 * speech 120/min. 429 after exactly N with the IETF headers, Retry-After and details.policy, the
 * RateLimit `r` counting down, per-account isolation, and a 429 that charges nothing.
 *
 * The ai app is built in-process (as functions/ai builds it) with its own config, in front of the
 * stack's fake upstream. GCRA gives a token back every window/quota seconds (1 s for chat, 0.5 s
 * for speech), so "exactly N" is counted with the default quota over a long window (N/3600),
 * which no slow machine can refill mid-test; the default policies' header values are checked
 * as they are on a fresh account. Images, jobs.start, promo, admin and unauthenticated are in
 * ai_rules_test.ts, jobs_test.ts, promo_redeem_test.ts, ratelimit_admin_and_unauthenticated_test.ts.
 */
import assert from "node:assert/strict";
import type { Hono } from "hono";
import { flushAfterResponse } from "../../functions/_shared/audit/after_response.ts";
import { parseConfig } from "../../functions/_shared/config.ts";
import { createSql, type Sql } from "../../functions/_shared/db/client.ts";
import type { AppEnv } from "../../functions/_shared/http/types.ts";
import { createLogger } from "../../functions/_shared/log/logger.ts";
import { createApp } from "../../functions/ai/app.ts";
import { testEnv } from "../support/env.ts";
import {
  balanceOf,
  chatModel,
  fundedUser,
  generationsOf,
  settled,
  speechModel,
  type User,
} from "./ai_helpers.ts";

const DB_TEST = { sanitizeOps: false, sanitizeResources: false };
const quiet = createLogger({ sink: () => {} });

const chat = await chatModel("ratelimit", {
  perRequest: 1,
  per1kInput: 0,
  per1kOutput: 0,
  maxTokens: 16,
});
const voice = await speechModel("ratelimit-voice", 1, 0);

/** An ai app with the stack's env plus `env`, talking to the fake upstream; closed after `fn`. */
async function withAiApp(
  env: Record<string, string>,
  fn: (app: Hono<AppEnv>) => Promise<void>,
): Promise<void> {
  const sql: Sql = createSql(testEnv("TEST_API_DB_URL"), { max: 4 });
  const config = parseConfig({
    ...Deno.env.toObject(),
    OPENAI_BASE_URL: `${testEnv("TEST_FAKE_UPSTREAM_URL")}/v1`,
    ...env,
  });
  try {
    await fn(createApp({ config, sql, logger: quiet }));
  } finally {
    await flushAfterResponse();
    await sql.end({ timeout: 5 });
  }
}

type Route = "chat" | "speech";

/** One paid call; the body is read to the end so the (streamed) call settles. */
async function call(app: Hono<AppEnv>, user: User, route: Route): Promise<Response> {
  const [path, body] = route === "chat"
    ? ["/ai/v1/chat/completions", { model: chat, messages: [{ role: "user", content: "WORDS:1" }] }]
    : ["/ai/v1/audio/speech", { model: voice, input: "BYTES:1000", voice: "alloy" }];
  const res = await app.request(path, {
    method: "POST",
    headers: { ...user.headers, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  return new Response(res.status === 200 ? null : bytes, {
    status: res.status,
    headers: res.headers,
  });
}

/** `r` and `t` of a `"<policy>";r=<n>;t=<n>` RateLimit header (throws on anything else). */
function rateLimit(res: Response, policy: string): { r: number; t: number } {
  const value = res.headers.get("ratelimit") ?? "";
  const m = new RegExp(`^"${policy}";r=(\\d+);t=(\\d+)$`).exec(value);
  assert.ok(m, `RateLimit header ${JSON.stringify(value)}`);
  return { r: Number(m[1]), t: Number(m[2]) };
}

for (
  const { route, quota, perToken } of [
    { route: "chat", quota: 60, perToken: 60 },
    { route: "speech", quota: 120, perToken: 30 },
  ] as const
) {
  Deno.test(
    `${route}: the default policy's headers are ${quota} per 60 s per account`,
    DB_TEST,
    async () => {
      await withAiApp({}, async (app) => {
        const user = await fundedUser(100);
        const res = await call(app, user, route);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("ratelimit-policy"), `"${route}";q=${quota};w=60`);
        assert.equal(res.headers.get("ratelimit"), `"${route}";r=${quota - 1};t=1`);
      });
    },
  );

  Deno.test(
    `${route}: ${quota} calls per account, the next is 429 and charges nothing; others unaffected`,
    DB_TEST,
    async () => {
      const envVar = `RATE_LIMIT_${route.toUpperCase()}`;
      await withAiApp({ [envVar]: `${quota}/3600` }, async (app) => {
        const user = await fundedUser(1000);
        const remaining: number[] = [];
        for (let i = 1; i <= quota; i++) {
          const res = await call(app, user, route);
          assert.equal(res.status, 200, `request ${i}`);
          assert.equal(res.headers.get("ratelimit-policy"), `"${route}";q=${quota};w=3600`);
          remaining.push(rateLimit(res, route).r);
        }
        assert.deepEqual(remaining, Array.from({ length: quota }, (_, i) => quota - 1 - i));
        await settled(user);
        const before = await balanceOf(user);
        assert.equal(before.balance, 1000 - quota, "each admitted call cost 1 credit");

        const limited = await call(app, user, route);
        assert.equal(limited.status, 429);
        const body = await limited.json();
        assert.equal(body.error.code, "RATE_LIMITED");
        assert.equal(body.error.details.policy, route);
        // The next token comes 3600/quota s after the burst began (minus the burst's duration).
        const retryAfter = Number(limited.headers.get("retry-after"));
        assert.ok(
          retryAfter >= 1 && retryAfter > perToken - 10 && retryAfter <= perToken,
          `Retry-After ${retryAfter}: one token every ${perToken} s`,
        );
        assert.equal(rateLimit(limited, route).r, 0);
        assert.equal(limited.headers.get("ratelimit-policy"), `"${route}";q=${quota};w=3600`);

        assert.deepEqual(await balanceOf(user), before, "the 429 charged and held nothing");
        assert.equal((await generationsOf(user)).length, quota, "the 429 reached no upstream");

        const other = await fundedUser(10);
        const res = await call(app, other, route);
        assert.equal(res.status, 200, "another account has its own bucket");
        assert.equal(rateLimit(res, route).r, quota - 1);
      });
    },
  );
}

/**
 * POST /credits/redeem end to end against the real database (issue 6, "Promo codes").
 *
 * The route module (functions/credits/routes/redeem.ts) is mounted on a credits app built here
 * exactly as functions/credits/app.ts builds its own (base app → authFailureGuard → auth →
 * routes), so each test can choose its configuration: the stack's env is fixed for the whole
 * run, and the lockout sequence needs more than the 3 attempts per hour the default allows.
 * The rate-limit test uses the default quota (3/hour). Every test uses fresh accounts, devices
 * and client IPs, so tests never share a bucket.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import type { Hono } from "hono";
import { flushAfterResponse } from "../../functions/_shared/audit/after_response.ts";
import { auth } from "../../functions/_shared/auth/middleware/index.ts";
import { type Config, parseConfig } from "../../functions/_shared/config.ts";
import { createSql, type Sql } from "../../functions/_shared/db/client.ts";
import { createBaseApp } from "../../functions/_shared/http/app.ts";
import type { AppEnv } from "../../functions/_shared/http/types.ts";
import { createLogger } from "../../functions/_shared/log/logger.ts";
import { authFailureGuard } from "../../functions/_shared/ratelimit/unauthenticated.ts";
import { redeemRoutes } from "../../functions/credits/routes/redeem.ts";
import type { AuthEnv } from "../../functions/_shared/auth/middleware/index.ts";
import { newUser } from "../support/auth.ts";
import { testEnv } from "../support/env.ts";
import { adminSql } from "../support/db.ts";

const REVIEW_CODE = testEnv("REVIEW_CODE");
const REVIEW_GRANT_AMOUNT = Number(Deno.env.get("REVIEW_GRANT_AMOUNT") ?? "20");
const INITIAL_GRANT = Number(Deno.env.get("INITIAL_GRANT") ?? "3");
const DB_TEST = { sanitizeOps: false, sanitizeResources: false };

interface Harness {
  app: Hono<AppEnv>;
  config: Config;
  sql: Sql;
  admin: postgres.Sql;
}

/** A credits app carrying only the redeem route, with env overrides for this test. */
async function withRedeemApp(
  env: Record<string, string>,
  fn: (h: Harness) => Promise<void>,
): Promise<void> {
  const config = parseConfig({ ...Deno.env.toObject(), ...env });
  const sql = createSql(testEnv("TEST_API_DB_URL"), { max: 10 });
  const admin = adminSql();
  const app = createBaseApp("credits", { config, logger: createLogger({ sink: () => {} }) });
  app.use("*", authFailureGuard({ sql: () => sql }));
  const authed = app as unknown as Hono<AuthEnv>;
  authed.use("*", auth());
  redeemRoutes(authed, { config, sql: () => sql });
  try {
    await fn({ app, config, sql, admin });
  } finally {
    await flushAfterResponse();
    await sql.end({ timeout: 5 });
    await admin.end({ timeout: 5 });
  }
}

let ipCounter = 0;
/** A client IP no other test uses (the gateway's X-Forwarded-For, rightmost entry). */
function freshIp(): string {
  ipCounter++;
  return `198.18.${Math.floor(Math.random() * 200)}.${(ipCounter % 250) + 1}`;
}

type User = Awaited<ReturnType<typeof newUser>>;

async function redeem(
  h: Harness,
  user: User,
  code: string,
  device: string | null,
  ip: string,
) {
  const headers: Record<string, string> = {
    ...user.headers,
    "content-type": "application/json",
    "x-forwarded-for": ip,
  };
  if (device) headers["x-device-id"] = device;
  const res = await h.app.request("/credits/redeem", {
    method: "POST",
    headers,
    body: JSON.stringify({ code }),
  });
  return { res, status: res.status, body: await res.json() };
}

async function balanceOf(h: Harness, id: string): Promise<number> {
  const [row] = await h.admin`select balance from credits.accounts where id = ${id}::uuid`;
  return row ? Number(row.balance) : 0;
}

const device = () => `dev-${crypto.randomUUID()}`;

Deno.test(
  "redeem: REVIEW_CODE grants REVIEW_GRANT_AMOUNT once per account and once per device",
  DB_TEST,
  async () => {
    await withRedeemApp({}, async (h) => {
      const [a, b, c] = [await newUser(), await newUser(), await newUser()];
      const [d1, d2] = [device(), device()];
      const ip = freshIp();

      const first = await redeem(h, a, `  ${REVIEW_CODE.toLowerCase()} `, d1, ip);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.deepEqual(first.body, {
        redeemed: true,
        campaign: "review-code",
        credits: REVIEW_GRANT_AMOUNT,
        balance: INITIAL_GRANT + REVIEW_GRANT_AMOUNT,
        available: INITIAL_GRANT + REVIEW_GRANT_AMOUNT,
      });
      assert.equal(
        first.res.headers.get("ratelimit-policy"),
        '"promo.account";q=3;w=3600, "promo.device";q=3;w=3600',
      );
      assert.equal(
        first.res.headers.get("ratelimit"),
        '"promo.account";r=2;t=1200, "promo.device";r=2;t=1200',
      );

      const again = await redeem(h, a, REVIEW_CODE, d2, ip);
      assert.equal(again.status, 409);
      assert.equal(again.body.error.code, "CONFLICT");
      assert.deepEqual(again.body.error.details, { reason: "already_redeemed", by: "account" });

      const sameDevice = await redeem(h, b, REVIEW_CODE, d1, ip);
      assert.equal(sameDevice.status, 409);
      assert.deepEqual(sameDevice.body.error.details, { reason: "already_redeemed", by: "device" });

      const fresh = await redeem(h, c, REVIEW_CODE, d2, ip);
      assert.equal(fresh.status, 200);

      assert.equal(await balanceOf(h, a.id), INITIAL_GRANT + REVIEW_GRANT_AMOUNT, "granted once");
      assert.equal(await balanceOf(h, b.id), INITIAL_GRANT, "the refused account got nothing");
      const rows = await h.admin`
      select count(*)::int as n from credits.ledger
       where account_id in (${a.id}::uuid, ${b.id}::uuid, ${c.id}::uuid) and reason = 'promo'`;
      assert.equal(rows[0].n, 2);
    });
  },
);

Deno.test(
  "redeem: wrong ×4, the 5th blocks account and device for 24 h; the right code stays blocked",
  DB_TEST,
  async () => {
    await withRedeemApp({ RATE_LIMIT_PROMO: "100/3600" }, async (h) => {
      const user = await newUser();
      const dev = device();
      const ip = freshIp();
      for (let i = 1; i <= 4; i++) {
        const r = await redeem(h, user, `WRONG-CODE-${i}`, dev, ip);
        assert.equal(r.status, 422, `attempt ${i}`);
        assert.equal(r.body.error.code, "UNPROCESSABLE");
        assert.deepEqual(r.body.error.details, {
          reason: "invalid_code",
          remainingAttempts: 5 - i,
        });
      }
      const fifth = await redeem(h, user, "WRONG-CODE-5", dev, ip);
      assert.equal(fifth.status, 403);
      assert.equal(fifth.body.error.code, "BLOCKED");
      assert.equal(fifth.res.headers.get("retry-after"), "86400");
      assert.equal(fifth.body.error.details.retryAfterSeconds, 86400);

      const right = await redeem(h, user, REVIEW_CODE, dev, ip);
      assert.equal(right.status, 403, "the right code after the block is still blocked");
      assert.equal(right.body.error.code, "BLOCKED");
      const retryAfter = Number(right.res.headers.get("retry-after"));
      assert.ok(retryAfter > 86_000 && retryAfter <= 86_400, `Retry-After ${retryAfter}`);

      const otherAccount = await redeem(h, await newUser(), REVIEW_CODE, dev, ip);
      assert.equal(otherAccount.status, 403, "the device is blocked for every account");
      const otherDevice = await redeem(h, user, REVIEW_CODE, device(), ip);
      assert.equal(otherDevice.status, 403, "the account is blocked on every device");
      assert.equal(await balanceOf(h, user.id), INITIAL_GRANT, "nothing was granted");

      // Every failure is a security event, with the IP hash, without the code.
      const events = await h.admin`
      select action, category, ip_hash, metadata::text as metadata from ops.audit_log
       where account_id = ${user.id}::uuid order by id`;
      assert.deepEqual(
        events.map((e) => `${e.category}:${e.action}`),
        [
          ...Array(5).fill("security:promo.failed"),
          "security:promo.lockout",
          "security:promo.blocked",
          "security:promo.blocked",
        ],
      );
      for (const e of events) {
        assert.match(e.ip_hash, /^[A-Za-z0-9_-]{43}$/);
        assert.ok(!/WRONG-CODE|LOCAL-REVIEW/i.test(e.metadata), e.metadata);
        assert.ok(!e.metadata.includes(REVIEW_CODE));
      }
    });
  },
);

Deno.test("redeem: a success clears the failure count", DB_TEST, async () => {
  await withRedeemApp({ RATE_LIMIT_PROMO: "100/3600" }, async (h) => {
    const user = await newUser();
    const dev = device();
    const ip = freshIp();
    for (let i = 1; i <= 4; i++) {
      assert.equal((await redeem(h, user, `NOPE-${i}`, dev, ip)).status, 422);
    }
    assert.equal(
      (await redeem(h, user, REVIEW_CODE, dev, ip)).status,
      200,
      "4 failures do not block",
    );
    // Counting restarts: 4 more failures are still not a block (they would be, uncleared).
    for (let i = 1; i <= 4; i++) {
      const r = await redeem(h, user, `NOPE-AGAIN-${i}`, dev, ip);
      assert.equal(r.status, 422, `failure ${i} after the success`);
      assert.equal(r.body.error.details.remainingAttempts, 5 - i);
    }
  });
});

Deno.test(
  "redeem: 3 attempts per hour per account and per device, then 429 with Retry-After",
  DB_TEST,
  async () => {
    await withRedeemApp({}, async (h) => {
      const user = await newUser();
      const ip = freshIp();
      const remaining: string[] = [];
      for (let i = 1; i <= 3; i++) {
        const r = await redeem(h, user, `MISS-${i}`, device(), ip);
        assert.equal(r.status, 422);
        remaining.push(r.res.headers.get("ratelimit") ?? "");
      }
      assert.deepEqual(remaining.map((v) => /"promo\.account";r=(\d+)/.exec(v)?.[1]), [
        "2",
        "1",
        "0",
      ]);
      const limited = await redeem(h, user, REVIEW_CODE, device(), ip);
      assert.equal(limited.status, 429);
      assert.equal(limited.body.error.code, "RATE_LIMITED");
      assert.equal(limited.body.error.details.policy, "promo.account");
      // The next attempt fits T = 3600/3 s after the first (less the time the test took).
      const retryAfter = Number(limited.res.headers.get("retry-after"));
      assert.ok(retryAfter > 1190 && retryAfter <= 1200, `Retry-After ${retryAfter}`);
      assert.equal(limited.res.headers.get("ratelimit-policy"), '"promo.account";q=3;w=3600');
      const t = Number(
        /^"promo\.account";r=0;t=(\d+)$/.exec(limited.res.headers.get("ratelimit") ?? "")?.[1],
      );
      assert.ok(t > 3590 && t <= 3600, `t=${t}`);
      assert.equal(
        await balanceOf(h, user.id),
        INITIAL_GRANT,
        "even the right code redeemed nothing",
      );

      // Per device: three accounts use up one device; a fourth account is limited by it.
      const shared = device();
      for (let i = 0; i < 3; i++) {
        assert.equal((await redeem(h, await newUser(), `MISS-D${i}`, shared, ip)).status, 422);
      }
      const fourth = await newUser();
      const byDevice = await redeem(h, fourth, REVIEW_CODE, shared, ip);
      assert.equal(byDevice.status, 429);
      assert.equal(byDevice.body.error.details.policy, "promo.device");
      // Isolation: that account's own bucket was not used; elsewhere it redeems.
      const elsewhere = await redeem(h, fourth, REVIEW_CODE, device(), ip);
      assert.equal(elsewhere.status, 200);
      assert.match(elsewhere.res.headers.get("ratelimit") ?? "", /^"promo\.account";r=2;/);
    });
  },
);

Deno.test(
  "redeem: requires X-Device-Id and a token; a bad token is a 401 audited per IP",
  DB_TEST,
  async () => {
    await withRedeemApp({}, async (h) => {
      const user = await newUser();
      const ip = freshIp();
      const noDevice = await redeem(h, user, REVIEW_CODE, null, ip);
      assert.equal(noDevice.status, 400);
      assert.equal(noDevice.body.error.details.fields[0].path, "headers.x-device-id");

      const requestId = `redeem-401-${crypto.randomUUID()}`;
      const res = await h.app.request("/credits/redeem", {
        method: "POST",
        headers: {
          authorization: "Bearer not-a-jwt",
          "content-type": "application/json",
          "x-forwarded-for": ip,
          "x-request-id": requestId,
        },
        body: JSON.stringify({ code: REVIEW_CODE }),
      });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get("ratelimit-policy"), '"unauthenticated";q=100;w=60');
      assert.match(res.headers.get("ratelimit") ?? "", /^"unauthenticated";r=99;t=1$/);
      await res.body?.cancel();
      const [event] = await h.admin`
      select category, ip_hash, metadata from ops.audit_log
       where action = 'auth.failed' and request_id = ${requestId}`;
      assert.equal(event.category, "security");
      assert.match(event.ip_hash, /^[A-Za-z0-9_-]{43}$/);
      assert.deepEqual(event.metadata, {
        function: "credits",
        reason: "malformed",
        method: "POST",
        route: "/credits/redeem",
      });
    });
  },
);

Deno.test(
  "redeem: the credits.redeem kill switch answers 503 within 5 s and grants nothing",
  DB_TEST,
  async () => {
    await withRedeemApp({}, async (h) => {
      const user = await newUser();
      const dev = device();
      await h
        .admin`update ops.feature_flags set enabled = false, retry_after_seconds = 77 where name = 'credits.redeem'`;
      try {
        const started = Date.now();
        let r = await redeem(h, user, REVIEW_CODE, dev, freshIp());
        while (r.status !== 503 && Date.now() - started < 5000) {
          await new Promise((ok) => setTimeout(ok, 200));
          r = await redeem(h, user, REVIEW_CODE, dev, freshIp());
        }
        assert.equal(r.status, 503);
        assert.equal(r.body.error.code, "MAINTENANCE");
        assert.equal(r.res.headers.get("retry-after"), "77");
        assert.equal(await balanceOf(h, user.id), 0, "nothing charged or granted, no account made");
      } finally {
        await h
          .admin`update ops.feature_flags set enabled = true, retry_after_seconds = 60 where name = 'credits.redeem'`;
      }
      assert.equal((await redeem(h, user, REVIEW_CODE, dev, freshIp())).status, 200, "on again");
    });
  },
);

Deno.test("redeem: campaign caps and validity windows", DB_TEST, async () => {
  await withRedeemApp({}, async (h) => {
    const suffix = crypto.randomUUID().slice(0, 8);
    const { promoCodeHash } = await import("../../functions/credits/routes/promo_code.ts");
    await h.admin`select api.promo_campaign_create(${`cap-${suffix}`}, ${await promoCodeHash(
      `CAP-${suffix}`,
    )}::bytea,
                  7, 1, null, null, true, 'test')`;
    await h.admin`select api.promo_campaign_create(${`old-${suffix}`}, ${await promoCodeHash(
      `OLD-${suffix}`,
    )}::bytea,
                  7, null, now() - interval '2 days', now() - interval '1 day', true, 'test')`;
    const ip = freshIp();
    const ok = await redeem(h, await newUser(), `cap-${suffix}`, device(), ip);
    assert.equal(ok.status, 200);
    assert.equal(ok.body.credits, 7);
    const capped = await redeem(h, await newUser(), `CAP-${suffix}`, device(), ip);
    assert.equal(capped.status, 409);
    assert.deepEqual(capped.body.error.details, { reason: "campaign_exhausted" });
    const expired = await redeem(h, await newUser(), `OLD-${suffix}`, device(), ip);
    assert.equal(expired.status, 422);
    assert.deepEqual(expired.body.error.details, { reason: "code_not_active", status: "expired" });
  });
});

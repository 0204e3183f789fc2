/**
 * Kill switches take effect within 5 s and charge nothing (issue 6), toggled by plain SQL or by
 * the admin API:
 * - hot paths check the flag inside their own SQL call: effective on the next request
 *   (jobs.start through the gateway; credits.redeem switched by PUT /admin/flags);
 * - routes that use the function-side FlagCache see the change within MAX_FLAG_CACHE_MS (5 s).
 * Flags are global state: every test switches its flag back on in `finally`.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { Hono } from "hono";
import { flushAfterResponse } from "../../functions/_shared/audit/after_response.ts";
import { auth, type AuthEnv } from "../../functions/_shared/auth/middleware/index.ts";
import { parseConfig } from "../../functions/_shared/config.ts";
import { createSql } from "../../functions/_shared/db/client.ts";
import {
  createSqlFlagLoader,
  FlagCache,
  MAX_FLAG_CACHE_MS,
} from "../../functions/_shared/flags/flags.ts";
import { requireFlag } from "../../functions/_shared/flags/middleware.ts";
import { createBaseApp } from "../../functions/_shared/http/app.ts";
import { ApiError } from "../../functions/_shared/http/errors.ts";
import { createLogger } from "../../functions/_shared/log/logger.ts";
import { createApp as createAdminApp } from "../../functions/admin/app.ts";
import { redeemRoutes } from "../../functions/credits/routes/redeem.ts";
import { newUser } from "../support/auth.ts";
import { fnUrl, testEnv } from "../support/env.ts";
import { adminSql } from "../support/db.ts";

const DB_TEST = { sanitizeOps: false, sanitizeResources: false };
const quiet = createLogger({ sink: () => {} });

async function withDb<T>(fn: (db: postgres.Sql) => Promise<T>): Promise<T> {
  const db = adminSql(1);
  try {
    return await fn(db);
  } finally {
    await db.end({ timeout: 5 });
  }
}

/** Polls `probe` until it returns true; the elapsed ms, or fails after `limitMs`. */
async function within(limitMs: number, probe: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await probe())) {
    if (Date.now() - started > limitMs) assert.fail(`not within ${limitMs} ms`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
  return Date.now() - started;
}

Deno.test("flags: cached readers see a plain-SQL toggle within 5 s", DB_TEST, async () => {
  const sql = createSql(testEnv("TEST_API_DB_URL"), { max: 1 });
  const cache = new FlagCache({ load: createSqlFlagLoader(sql) });
  const app = new Hono();
  app.onError((err, c) =>
    c.json(
      { code: err instanceof ApiError ? err.code : "INTERNAL" },
      err instanceof ApiError ? err.status : 500,
    )
  );
  app.use(
    "/store/*",
    requireFlag({
      name: "purchases",
      cache,
      onMaintenance: () => {
        throw new ApiError("MAINTENANCE", "switched off");
      },
    }),
  );
  app.get("/store/buy", (c) => c.json({ ok: true }));
  const status = async () => {
    const res = await app.request("/store/buy");
    await res.body?.cancel();
    return res;
  };
  try {
    assert.equal((await status()).status, 200, "warm cache, flag on");
    await withDb((db) =>
      db`update ops.feature_flags set enabled = false, retry_after_seconds = 33 where name = 'purchases'`
    );
    let last: Response | undefined;
    const off = await within(
      MAX_FLAG_CACHE_MS + 500,
      async () => (last = await status()).status === 503,
    );
    assert.ok(off <= MAX_FLAG_CACHE_MS + 500, `off after ${off} ms`);
    assert.equal(last?.headers.get("retry-after"), "33");
  } finally {
    await withDb((db) =>
      db`update ops.feature_flags set enabled = true, retry_after_seconds = 60 where name = 'purchases'`
    );
    await sql.end({ timeout: 5 });
  }
});

Deno.test("flags: jobs.start switched off by SQL answers 503 within 5 s and holds nothing", async () => {
  const user = await newUser();
  const headers = { ...user.headers, "content-type": "application/json" };
  const balance = async () => {
    const res = await fetch(fnUrl("/credits/balance"), { headers: user.headers });
    return await res.json();
  };
  const before = await balance();
  await withDb((db) => db`update ops.feature_flags set enabled = false where name = 'jobs.start'`);
  try {
    let body: { error?: { code: string } } = {};
    let retryAfter: string | null = null;
    await within(5000, async () => {
      const res = await fetch(fnUrl("/jobs"), {
        method: "POST",
        headers,
        body: JSON.stringify({ amount: 1 }),
      });
      retryAfter = res.headers.get("retry-after");
      body = await res.json();
      return res.status === 503;
    });
    assert.equal(body.error?.code, "MAINTENANCE");
    assert.ok(Number(retryAfter) >= 1, "with Retry-After");
    assert.deepEqual(await balance(), before, "nothing held or charged");
  } finally {
    await withDb((db) => db`update ops.feature_flags set enabled = true where name = 'jobs.start'`);
  }
});

Deno.test(
  "flags: PUT /admin/flags switches credits.redeem at once; nothing is granted while off",
  DB_TEST,
  async () => {
    const config = parseConfig(Deno.env.toObject());
    const sql = createSql(testEnv("TEST_API_DB_URL"), { max: 2 });
    const admin = createAdminApp({ config, sql, logger: quiet });
    const credits = createBaseApp("credits", { config, logger: quiet });
    const authed = credits as unknown as Hono<AuthEnv>;
    authed.use("*", auth());
    redeemRoutes(authed, { config, sql: () => sql });

    const ip = `192.0.2.${Math.floor(Math.random() * 250) + 1}`;
    const put = (enabled: boolean) =>
      admin.request("/admin/flags", {
        method: "PUT",
        headers: {
          "x-admin-secret": testEnv("ADMIN_SECRET"),
          "content-type": "application/json",
          "x-forwarded-for": ip,
        },
        body: JSON.stringify({ name: "credits.redeem", enabled, reason: enabled ? null : "test" }),
      });
    const user = await newUser();
    const redeem = () =>
      credits.request("/credits/redeem", {
        method: "POST",
        headers: {
          ...user.headers,
          "content-type": "application/json",
          "x-device-id": `flags-${user.id}`,
          "x-forwarded-for": ip,
        },
        body: JSON.stringify({ code: testEnv("REVIEW_CODE") }),
      });
    try {
      assert.equal((await put(false)).status, 200);
      const off = await redeem();
      assert.equal(off.status, 503, "the very next request");
      assert.equal((await off.json()).error.code, "MAINTENANCE");
      const [row] = await withDb((db) =>
        db`select count(*)::int as n from credits.accounts where id = ${user.id}::uuid`
      );
      assert.equal(row.n, 0, "nothing written");
    } finally {
      await (await put(true)).body?.cancel();
    }
    try {
      const on = await redeem();
      assert.equal(on.status, 200);
      await on.body?.cancel();
    } finally {
      await flushAfterResponse();
      await sql.end({ timeout: 5 });
    }
  },
);

/**
 * The per-IP limits of issue 6 against the real database: admin 30/min and unauthenticated
 * 100/min (failed authentication, health-style routes). 429 after exactly N with the IETF
 * headers and Retry-After, per-key isolation, window roll-over without a second burst, and
 * ENABLE_RATE_LIMITING=false.
 *
 * The apps are built here (as their functions build them) so every test has its own client IPs
 * — everything through the local gateway shares 127.0.0.1 — and test-only windows where timing
 * matters (the stack's env is fixed for the whole run): GCRA gives a token back every
 * window/quota seconds (0.6 s for 100/min), so "exactly N" is counted with the default quota
 * over a long window (N/3600), which no slow machine can refill mid-test; the default policies'
 * header values are checked as they are; roll-over uses RATE_LIMIT_ADMIN=2/2.
 * Exactness under concurrency is tests/concurrency/rate_limit_exactness_test.ts (SQL level).
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import type { Hono } from "hono";
import { flushAfterResponse } from "../../functions/_shared/audit/after_response.ts";
import { clientIpHash } from "../../functions/_shared/audit/client_ip_hash.ts";
import { auth } from "../../functions/_shared/auth/middleware/index.ts";
import { type Config, parseConfig } from "../../functions/_shared/config.ts";
import { createSql, type Sql } from "../../functions/_shared/db/client.ts";
import { createBaseApp } from "../../functions/_shared/http/app.ts";
import type { AppEnv } from "../../functions/_shared/http/types.ts";
import { createLogger } from "../../functions/_shared/log/logger.ts";
import {
  authFailureGuard,
  unauthenticatedRateLimit,
} from "../../functions/_shared/ratelimit/unauthenticated.ts";
import { createApp as createAdminApp } from "../../functions/admin/app.ts";
import { testEnv } from "../support/env.ts";
import { adminSql } from "../support/db.ts";

const DB_TEST = { sanitizeOps: false, sanitizeResources: false };
const SECRET = testEnv("ADMIN_SECRET");
const quiet = createLogger({ sink: () => {} });

async function withSql(fn: (sql: Sql, db: postgres.Sql) => Promise<void>) {
  const sql = createSql(testEnv("TEST_API_DB_URL"), { max: 4 });
  const db = adminSql(1);
  try {
    await fn(sql, db);
  } finally {
    await flushAfterResponse();
    await sql.end({ timeout: 5 });
    await db.end({ timeout: 5 });
  }
}

function config(env: Record<string, string> = {}): Config {
  return parseConfig({ ...Deno.env.toObject(), ...env });
}

let n = 0;
/** A client IP (IPv4 documentation range + counter) that no other test uses. */
function freshIp(): string {
  n++;
  return `203.0.${(Date.now() + n) % 250}.${(n % 250) + 1}`;
}

function adminGet(app: Hono<AppEnv>, ip: string, secret: string | null = SECRET) {
  const headers: Record<string, string> = { "x-forwarded-for": ip };
  if (secret !== null) headers["x-admin-secret"] = secret;
  return app.request("/admin/flags", { headers });
}

Deno.test(
  "admin: the default policy's headers are 30 per 60 s per client IP",
  DB_TEST,
  async () => {
    await withSql(async (sql) => {
      const app = createAdminApp({ config: config(), sql, logger: quiet });
      const res = await adminGet(app, freshIp());
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("ratelimit-policy"), '"admin";q=30;w=60');
      assert.equal(res.headers.get("ratelimit"), '"admin";r=29;t=2');
      await res.body?.cancel();
    });
  },
);

Deno.test(
  "admin: 30 requests per client IP, the 31st is 429 with the headers",
  DB_TEST,
  async () => {
    await withSql(async (sql) => {
      const app = createAdminApp({
        config: config({ RATE_LIMIT_ADMIN: "30/3600" }),
        sql,
        logger: quiet,
      });
      const ip = freshIp();
      const remaining: number[] = [];
      for (let i = 1; i <= 30; i++) {
        const res = await adminGet(app, ip);
        assert.equal(res.status, 200, `request ${i}`);
        assert.equal(res.headers.get("ratelimit-policy"), '"admin";q=30;w=3600');
        const m = /^"admin";r=(\d+);t=(\d+)$/.exec(res.headers.get("ratelimit") ?? "");
        assert.ok(m, res.headers.get("ratelimit") ?? "no RateLimit header");
        remaining.push(Number(m[1]));
        await res.body?.cancel();
      }
      assert.deepEqual(remaining, Array.from({ length: 30 }, (_, i) => 29 - i));
      const limited = await adminGet(app, ip);
      assert.equal(limited.status, 429);
      const body = await limited.json();
      assert.equal(body.error.code, "RATE_LIMITED");
      assert.equal(body.error.details.policy, "admin");
      // The next token comes T = 3600/30 s after the burst began (minus the burst's own duration).
      const retryAfter = Number(limited.headers.get("retry-after"));
      assert.ok(retryAfter > 110 && retryAfter <= 120, `Retry-After ${retryAfter}`);
      const t = Number(/^"admin";r=0;t=(\d+)$/.exec(limited.headers.get("ratelimit") ?? "")?.[1]);
      assert.ok(t > 3590 && t <= 3600, `t=${t}: the bucket is full again a window after the burst`);

      const other = await adminGet(app, freshIp());
      assert.equal(other.status, 200, "another IP has its own bucket");
      await other.body?.cancel();
    });
  },
);

Deno.test(
  "admin: wrong secrets use up the bucket too, so guessing is limited",
  DB_TEST,
  async () => {
    await withSql(async (sql, db) => {
      const app = createAdminApp({
        config: config({ RATE_LIMIT_ADMIN: "30/3600" }),
        sql,
        logger: quiet,
      });
      const ip = freshIp();
      for (let i = 0; i < 30; i++) {
        const res = await adminGet(app, ip, `guess-${i}`);
        assert.equal(res.status, 401);
        await res.body?.cancel();
      }
      const right = await adminGet(app, ip);
      assert.equal(right.status, 429, "even the right secret must wait");
      await right.body?.cancel();
      await flushAfterResponse();
      const hash = await clientIpHash(
        new Headers({ "x-forwarded-for": ip }),
        config().IP_HASH_SECRET,
      );
      const [row] = await db`select count(*)::int as n from ops.audit_log
                            where action = 'auth.failed' and ip_hash = ${hash}`;
      assert.equal(row.n, 30, "each wrong secret is a security event with the IP hash");
    });
  },
);

Deno.test(
  "admin: the window rolls over smoothly (RATE_LIMIT_ADMIN=2/2: no second burst)",
  DB_TEST,
  async () => {
    await withSql(async (sql) => {
      const app = createAdminApp({
        config: config({ RATE_LIMIT_ADMIN: "2/2" }),
        sql,
        logger: quiet,
      });
      const ip = freshIp();
      const statuses = async (count: number) => {
        const out: number[] = [];
        for (let i = 0; i < count; i++) {
          const res = await adminGet(app, ip);
          out.push(res.status);
          await res.body?.cancel();
        }
        return out;
      };
      assert.deepEqual(await statuses(3), [200, 200, 429]);
      await new Promise((ok) => setTimeout(ok, 1100));
      // One interval (2 s / 2) later exactly one request fits — not a fresh burst of two.
      assert.deepEqual(await statuses(2), [200, 429]);
      await new Promise((ok) => setTimeout(ok, 2100));
      assert.deepEqual(await statuses(3), [200, 200, 429], "a full window later: the full quota");
    });
  },
);

Deno.test(
  "admin: ENABLE_RATE_LIMITING=false sends no RateLimit headers and never 429s",
  DB_TEST,
  async () => {
    await withSql(async (sql) => {
      const app = createAdminApp({
        config: config({ ENABLE_RATE_LIMITING: "false", RATE_LIMIT_ADMIN: "1/60" }),
        sql,
        logger: quiet,
      });
      const ip = freshIp();
      for (let i = 0; i < 3; i++) {
        const res = await adminGet(app, ip);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("ratelimit"), null);
        await res.body?.cancel();
      }
    });
  },
);

/** A function app with auth, as credits/jobs/ai build theirs, plus the 401 guard. */
function authedApp(sql: Sql, cfg: Config): Hono<AppEnv> {
  const app = createBaseApp("credits", { config: cfg, logger: quiet });
  app.use("*", authFailureGuard({ sql: () => sql }));
  app.use("*", auth() as never);
  app.get("/me", (c) => c.json({ ok: true }));
  return app;
}

Deno.test(
  "unauthenticated: the default policy's headers are 100 per 60 s per client IP",
  DB_TEST,
  async () => {
    await withSql(async (sql) => {
      const app = authedApp(sql, config());
      const res = await app.request("/credits/me", { headers: { "x-forwarded-for": freshIp() } });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get("ratelimit-policy"), '"unauthenticated";q=100;w=60');
      assert.equal(res.headers.get("ratelimit"), '"unauthenticated";r=99;t=1');
      await res.body?.cancel();
    });
  },
);

Deno.test(
  "unauthenticated: 100 failed authentications per IP are 401, the 101st is 429",
  DB_TEST,
  async () => {
    await withSql(async (sql, db) => {
      const cfg = config({ RATE_LIMIT_UNAUTHENTICATED: "100/3600" });
      const app = authedApp(sql, cfg);
      const ip = freshIp();
      const call = (addr: string) =>
        app.request("/credits/me", {
          headers: {
            authorization: "Bearer eyJhbGciOiJIUzI1NiJ9.e30.bad",
            "x-forwarded-for": addr,
          },
        });
      for (let i = 1; i <= 100; i++) {
        const res = await call(ip);
        assert.equal(res.status, 401, `request ${i}`);
        assert.equal(res.headers.get("ratelimit-policy"), '"unauthenticated";q=100;w=3600');
        assert.match(
          res.headers.get("ratelimit") ?? "",
          new RegExp(`^"unauthenticated";r=${100 - i};t=\\d+$`),
        );
        await res.body?.cancel();
      }
      const limited = await call(ip);
      assert.equal(limited.status, 429);
      assert.equal((await limited.json()).error.code, "RATE_LIMITED");
      const retryAfter = Number(limited.headers.get("retry-after"));
      assert.ok(
        retryAfter > 26 && retryAfter <= 36,
        `Retry-After ${retryAfter}: one token every 36 s`,
      );

      const other = await call(freshIp());
      assert.equal(other.status, 401, "another IP is not limited");
      await other.body?.cancel();

      await flushAfterResponse();
      const hash = await clientIpHash(new Headers({ "x-forwarded-for": ip }), cfg.IP_HASH_SECRET);
      const [row] = await db`select count(*)::int as n from ops.audit_log
                            where action = 'auth.failed' and category = 'security' and ip_hash = ${hash}`;
      assert.equal(row.n, 100, "every admitted 401 is audited; the limited one is not");
    });
  },
);

Deno.test(
  "unauthenticated: a successful request pays nothing and is not limited",
  DB_TEST,
  async () => {
    await withSql(async (sql, db) => {
      const cfg = config({ RATE_LIMIT_UNAUTHENTICATED: "1/60" });
      const app = authedApp(sql, cfg);
      const { mintToken } = await import("../support/auth.ts");
      const token = await mintToken({ sub: crypto.randomUUID() });
      const ip = freshIp();
      for (let i = 0; i < 3; i++) {
        const res = await app.request("/credits/me", {
          headers: { authorization: `Bearer ${token}`, "x-forwarded-for": ip },
        });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("ratelimit"), null);
        await res.body?.cancel();
      }
      const hash = await clientIpHash(new Headers({ "x-forwarded-for": ip }), cfg.IP_HASH_SECRET);
      const rows = await db`select 1 from ops.rate_limit_state where key = ${`ip:${hash}`}`;
      assert.equal(rows.length, 0, "no bucket was touched");
    });
  },
);

Deno.test(
  "unauthenticated: routes without identity (health) take from the same IP bucket",
  DB_TEST,
  async () => {
    await withSql(async (sql) => {
      const cfg = config({ RATE_LIMIT_UNAUTHENTICATED: "3/60" });
      const app = createBaseApp("health", { config: cfg, logger: quiet });
      app.use("*", unauthenticatedRateLimit(cfg, { sql: () => sql }));
      app.get("/", (c) => c.json({ ok: true }));
      const ip = freshIp();
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await app.request("/health", { headers: { "x-forwarded-for": ip } });
        statuses.push(res.status);
        if (i === 3) {
          assert.equal(res.headers.get("ratelimit-policy"), '"unauthenticated";q=3;w=60');
          assert.equal(res.headers.get("retry-after"), "20");
        }
        await res.body?.cancel();
      }
      assert.deepEqual(statuses, [200, 200, 200, 429]);
    });
  },
);

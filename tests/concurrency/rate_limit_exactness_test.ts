/**
 * Issue 6: "100 concurrent clients against a limit of N admit exactly N per window".
 * Fires 100 concurrent ops.rate_limit_take calls through 40 connections (the row lock on the one
 * (policy, key) row serialises them) and counts admissions. Needs TEST_ADMIN_DB_URL: a superuser
 * URL of a database with the migrations applied.
 */
import assert from "node:assert/strict";
import postgres from "postgres";

const CALLS = 100;
const POOL = 40;

function adminUrl(): string {
  const url = Deno.env.get("TEST_ADMIN_DB_URL");
  if (!url) throw new Error("TEST_ADMIN_DB_URL must point at a migrated database (superuser)");
  return url;
}

async function withPool(fn: (sql: postgres.Sql) => Promise<void>): Promise<void> {
  const sql = postgres(adminUrl(), { max: POOL, prepare: false, onnotice: () => {} });
  try {
    // Open every connection first so the takes below really overlap.
    await Promise.all(Array.from({ length: POOL }, () => sql`select pg_sleep(0.05)`));
    await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function concurrentTakes(
  sql: postgres.Sql,
  policy: string,
  keys: string[],
  quota: number,
): Promise<Map<string, number>> {
  const results = await Promise.all(
    Array.from({ length: CALLS }, (_, i) => {
      const key = keys[i % keys.length];
      return sql<{ allowed: boolean }[]>`
        select allowed from ops.rate_limit_take(${policy}::text, ${key}::text, ${quota}::int, 3600)
      `.then((rows) => ({ key, allowed: rows[0].allowed }));
    }),
  );
  const admitted = new Map<string, number>(keys.map((k) => [k, 0]));
  for (const r of results) if (r.allowed) admitted.set(r.key, admitted.get(r.key)! + 1);
  return admitted;
}

Deno.test("100 concurrent takes against one key admit exactly N", async () => {
  await withPool(async (sql) => {
    const policy = `test.concurrency.${crypto.randomUUID()}`;
    try {
      for (const quota of [1, 17, 60]) {
        const admitted = await concurrentTakes(sql, `${policy}.${quota}`, ["account:one"], quota);
        assert.equal(admitted.get("account:one"), quota, `quota ${quota}`);
      }
    } finally {
      await sql`delete from ops.rate_limit_state where policy like ${policy + "%"}`;
    }
  });
});

Deno.test("100 concurrent takes spread over 4 keys admit exactly N for each key", async () => {
  await withPool(async (sql) => {
    const policy = `test.concurrency.${crypto.randomUUID()}`;
    const keys = ["account:a", "account:b", "device:c", "ip:d"];
    try {
      const admitted = await concurrentTakes(sql, policy, keys, 7);
      assert.deepEqual(Object.fromEntries(admitted), Object.fromEntries(keys.map((k) => [k, 7])));
    } finally {
      await sql`delete from ops.rate_limit_state where policy = ${policy}`;
    }
  });
});

/**
 * Promo redemption under concurrency (ARCHITECTURE §5: grant and redemption in one transaction
 * with a unique key): many simultaneous attempts of one account, or of many accounts on one
 * device, redeem exactly once; the lockout counts every concurrent failure.
 * Calls api.promo_redeem directly as tollgate_api through a 20-connection pool, the way the
 * function does (one call per request), with rate limits off (null quota).
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { promoCodeHash } from "../../functions/credits/routes/promo_code.ts";
import { testEnv } from "../support/env.ts";
import { adminSql } from "../support/db.ts";

const CALLS = 20;

async function withPools(fn: (api: postgres.Sql, admin: postgres.Sql) => Promise<void>) {
  const api = postgres(testEnv("TEST_API_DB_URL"), {
    max: CALLS,
    prepare: false,
    onnotice: () => {},
  });
  const admin = adminSql();
  try {
    // Open every connection first so the attempts really overlap.
    await Promise.all(Array.from({ length: CALLS }, () => api`select pg_sleep(0.05)`));
    await fn(api, admin);
  } finally {
    await api.end({ timeout: 5 });
    await admin.end({ timeout: 5 });
  }
}

async function campaign(admin: postgres.Sql, credits = 9): Promise<string> {
  const code = `RACE-${crypto.randomUUID().slice(0, 8).toUpperCase()}`;
  await admin`select api.promo_campaign_create(${code.toLowerCase()}, ${await promoCodeHash(
    code,
  )}::bytea,
              ${credits}, null, null, null, true, 'test')`;
  return code;
}

function attempt(api: postgres.Sql, account: string, device: string, hash: Uint8Array) {
  return api<{ outcome: string; reason: string | null }[]>`
    select outcome, reason from api.promo_redeem(${account}::uuid, ${device}::text, ${hash}::bytea, 3, null, null)`
    .then((rows) => rows[0]);
}

Deno.test("20 concurrent redemptions by one account (on 20 devices) grant exactly once", async () => {
  await withPools(async (api, admin) => {
    const hash = await promoCodeHash(await campaign(admin));
    const account = crypto.randomUUID();
    const results = await Promise.all(
      Array.from(
        { length: CALLS },
        (_, i) => attempt(api, account, `race-dev-${account}-${i}`, hash),
      ),
    );
    const outcomes = results.map((r) => `${r.outcome}${r.reason ? `:${r.reason}` : ""}`).sort();
    assert.equal(outcomes.filter((o) => o === "redeemed").length, 1, outcomes.join(", "));
    assert.equal(outcomes.filter((o) => o === "already_redeemed:account").length, CALLS - 1);
    const [row] = await admin`
      select count(*)::int as grants, (select balance from credits.accounts where id = ${account}::uuid) as balance
        from credits.ledger where account_id = ${account}::uuid and reason = 'promo'`;
    assert.equal(row.grants, 1);
    assert.equal(Number(row.balance), 3 + 9);
  });
});

Deno.test("20 accounts redeeming concurrently on one device: exactly one succeeds", async () => {
  await withPools(async (api, admin) => {
    const hash = await promoCodeHash(await campaign(admin));
    const device = `race-shared-${crypto.randomUUID()}`;
    const accounts = Array.from({ length: CALLS }, () => crypto.randomUUID());
    const results = await Promise.all(accounts.map((a) => attempt(api, a, device, hash)));
    assert.equal(results.filter((r) => r.outcome === "redeemed").length, 1);
    assert.equal(
      results.filter((r) => r.outcome === "already_redeemed" && r.reason === "device").length,
      CALLS - 1,
    );
    const [row] = await admin`
      select count(*)::int as n from credits.promo_redemptions where device_id = ${device}`;
    assert.equal(row.n, 1);
    const [ledger] = await admin`
      select count(*)::int as n from credits.ledger
       where account_id = any(${accounts}::uuid[]) and reason = 'promo'`;
    assert.equal(ledger.n, 1, "the losers' grants were rolled back with their redemption rows");
  });
});

Deno.test("20 concurrent wrong codes from one account: exactly the 5th failure blocks", async () => {
  await withPools(async (api, admin) => {
    const account = crypto.randomUUID();
    const results = await Promise.all(
      Array.from(
        { length: CALLS },
        async (_, i) =>
          attempt(api, account, `wrong-dev-${account}-${i}`, await promoCodeHash(`WRONG-${i}`)),
      ),
    );
    const counts = new Map<string, number>();
    for (const r of results) counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + 1);
    assert.equal(counts.get("invalid_code"), 4, JSON.stringify([...counts]));
    assert.equal(counts.get("blocked"), CALLS - 4);
    const [row] = await admin`
      select cardinality(failures) as failures from ops.promo_guard where subject = ${`account:${account}`}`;
    assert.equal(row.failures, 5, "attempts after the block are not failures");
  });
});

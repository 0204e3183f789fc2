/**
 * Issue 4 concurrency races, against real Postgres as tollgate_api (checks as superuser):
 *   - over-spend: 50 credits, 200 concurrent 1-credit charges (and starts) → exactly 50 succeed
 *   - commit vs cancel on one job at once → exactly one wins, the job is settled once
 *   - commit at the expiry instant (with expire_jobs running) → committed or expired, never both
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { testEnv } from "../support/env.ts";
import { adminSql } from "../support/db.ts";

const TOKEN = new Uint8Array(32).fill(9);

async function withPools(
  fn: (api: postgres.Sql, admin: postgres.Sql) => Promise<void>,
  size = 50,
): Promise<void> {
  const api = postgres(testEnv("TEST_API_DB_URL"), {
    max: size,
    prepare: false,
    onnotice: () => {},
  });
  const admin = adminSql();
  try {
    // Open the connections first so the calls below really overlap.
    await Promise.all(Array.from({ length: size }, () => api`select 1`));
    await fn(api, admin);
  } finally {
    await api.end({ timeout: 5 });
    await admin.end({ timeout: 5 });
  }
}

function outcome(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => "ok",
    (err) =>
      (err as { code?: string }).code === "P0001" ? (err as Error).message : `UNEXPECTED ${err}`,
  );
}

function counts(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

/** A race test: both pools open, no resource sanitizer (the pools outlive single ops). */
function raceTest(name: string, fn: (api: postgres.Sql, admin: postgres.Sql) => Promise<void>) {
  Deno.test({ name, sanitizeResources: false, sanitizeOps: false, fn: () => withPools(fn) });
}

/** The account's balance and held credits, read as superuser. */
async function accountTotals(
  admin: postgres.Sql,
  account: string,
): Promise<{ balance: number; held: number }> {
  const [a] =
    await admin`select balance::int, held::int from credits.accounts where id = ${account}::uuid`;
  return { balance: a.balance, held: a.held };
}

/** Every job of the account with its status, debited credits and number of job_debit rows. */
function jobSettlements(admin: postgres.Sql, account: string) {
  return admin<{ id: string; status: string; debited: number; debits: number }[]>`
    select j.id::text, j.status, j.debited::int,
           (select count(*)::int from credits.ledger l
             where l.account_id = j.account_id and l.kind = 'job_debit' and l.cause_key = j.id::text) as debits
      from credits.jobs j where j.account_id = ${account}::uuid`;
}

raceTest(
  "over-spend race: 50 credits, 200 concurrent 1-credit charges → exactly 50 succeed",
  async (api, admin) => {
    const account = crypto.randomUUID();
    await api`select * from api.ensure_account(${account}::uuid, 50)`;
    const results = await Promise.all(
      Array.from(
        { length: 200 },
        (_, i) => outcome(api`select * from api.charge(${account}::uuid, 1, ${`race-${i}`})`),
      ),
    );
    assert.deepEqual(counts(results), { ok: 50, INSUFFICIENT_CREDITS: 150 });
    assert.deepEqual(await accountTotals(admin, account), { balance: 0, held: 0 });
    const [l] = await admin`select count(*)::int as n from credits.ledger
                             where account_id = ${account}::uuid and kind = 'charge'`;
    assert.equal(l.n, 50);
  },
);

raceTest(
  "over-spend race: 50 credits, 200 concurrent 1-credit job starts → exactly 50 holds",
  async (api, admin) => {
    const account = crypto.randomUUID();
    await api`select * from api.ensure_account(${account}::uuid, 50)`;
    const results = await Promise.all(
      Array.from(
        { length: 200 },
        () =>
          outcome(api`select * from api.jobs_start(${account}::uuid, 50, null, null, 1, 600, null,
                                                 ${TOKEN}::bytea, null, null)`),
      ),
    );
    assert.deepEqual(counts(results), { ok: 50, INSUFFICIENT_CREDITS: 150 });
    assert.deepEqual(await accountTotals(admin, account), { balance: 50, held: 50 });
  },
);

raceTest("commit vs cancel on one job at once → exactly one wins (40 jobs)", async (api, admin) => {
  const account = crypto.randomUUID();
  await api`select * from api.ensure_account(${account}::uuid, 400)`;
  const jobs: string[] = [];
  for (let i = 0; i < 40; i++) {
    const [j] =
      await api`select job_id from api.start_job(${account}::uuid, 10, 600, null, null, ${TOKEN}::bytea)`;
    jobs.push(j.job_id);
  }
  const pairs = await Promise.all(jobs.map((job, i) => {
    const commit = outcome(
      api`select * from api.commit_job(${account}::uuid, ${job}::uuid, 7)`,
    );
    const cancel = outcome(api`select * from api.cancel_job(${account}::uuid, ${job}::uuid)`);
    // Alternate who is sent first so both orders race.
    return i % 2
      ? Promise.all([commit, cancel])
      : Promise.all([cancel, commit]).then(([x, c]) => [c, x]);
  }));
  let commits = 0;
  for (const [commit, cancel] of pairs) {
    assert.deepEqual(
      [commit, cancel].sort(),
      ["JOB_NOT_PENDING", "ok"],
      `exactly one of commit/cancel wins (${commit}, ${cancel})`,
    );
    if (commit === "ok") commits++;
  }
  const rows = await jobSettlements(admin, account);
  for (const [i, job] of jobs.entries()) {
    const row = rows.find((r) => r.id === job)!;
    const winner = pairs[i][0] === "ok" ? "committed" : "cancelled";
    assert.equal(row.status, winner);
    assert.equal(row.debited, winner === "committed" ? 7 : 0);
    assert.equal(row.debits, winner === "committed" ? 1 : 0);
  }
  assert.deepEqual(await accountTotals(admin, account), { balance: 400 - 7 * commits, held: 0 });
});

raceTest(
  "commit at the expiry instant → either committed or expired, never both (60 jobs)",
  async (api, admin) => {
    const account = crypto.randomUUID();
    await api`select * from api.ensure_account(${account}::uuid, 600)`;
    const jobs: { id: string; expiresAt: number }[] = [];
    for (let i = 0; i < 60; i++) {
      const [j] =
        await api`select job_id, expires_at from api.start_job(${account}::uuid, 10, 1, null, null, ${TOKEN}::bytea)`;
      jobs.push({ id: j.job_id, expiresAt: (j.expires_at as Date).getTime() });
    }
    // The cron's expiry sweep runs throughout, as it does in production.
    let sweeping = true;
    const sweeper = (async () => {
      while (sweeping) await api`select api.expire_jobs()`;
    })();
    // Each commit lands within ±15 ms of its job's expiry (spread over the window).
    const results = await Promise.all(jobs.map(async (job, i) => {
      const offset = (i % 31) - 15;
      const wait = job.expiresAt + offset - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      return await outcome(
        api`select * from api.commit_job(${account}::uuid, ${job.id}::uuid, 4)`,
      );
    }));
    sweeping = false;
    await sweeper;
    await api`select api.expire_jobs()`;

    const tally = counts(results);
    console.log(`commit at expiry: ${JSON.stringify(tally)}`);
    for (const r of results) assert.ok(r === "ok" || r === "JOB_EXPIRED", r);
    const rows = await jobSettlements(admin, account);
    let committed = 0;
    for (const [i, job] of jobs.entries()) {
      const row = rows.find((r) => r.id === job.id)!;
      if (results[i] === "ok") {
        committed++;
        assert.deepEqual({ status: row.status, debited: row.debited, debits: row.debits }, {
          status: "committed",
          debited: 4,
          debits: 1,
        });
      } else {
        assert.deepEqual({ status: row.status, debited: row.debited, debits: row.debits }, {
          status: "expired",
          debited: 0,
          debits: 0,
        });
      }
    }
    assert.deepEqual(await accountTotals(admin, account), {
      balance: 600 - 4 * committed,
      held: 0,
    });
  },
);

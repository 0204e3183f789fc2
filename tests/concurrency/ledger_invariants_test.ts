/**
 * Issue 4 concurrency: 50 accounts, 32 concurrent workers doing random start / spend / extend /
 * commit / cancel / charge / refund / grant / expire (and the composed api.jobs_* calls the
 * functions make) with duplicated idempotency keys and references, for >= 10 s, against real
 * Postgres as tollgate_api. Then, checked as superuser:
 *   - every account: balance = Σ its ledger, held = Σ its pending holds, available >= 0
 *   - no job debited twice or released twice; a settled job's debit matches its ledger row
 *   - no charge refunded above its amount or twice; no grant reference applied twice
 *   - grants + refunds − debits = Σ balances, and matches what the workers saw applied
 *   - every account's hash chain verifies
 *   - no unexpected error (deadlocks, constraint violations, ...) was raised
 *
 * Seeded PRNG: LEDGER_TEST_SEED=<n> replays the same random choices (timing still varies);
 * LEDGER_TEST_SECONDS overrides the duration (default 10).
 */
import assert from "node:assert/strict";
import postgres from "postgres";

const ACCOUNTS = 50;
const WORKERS = 32;
const SECONDS = Number(Deno.env.get("LEDGER_TEST_SECONDS") ?? "10");
const SEED = Number(Deno.env.get("LEDGER_TEST_SEED") ?? Math.floor(Math.random() * 2 ** 31));

/** Errors the api raises by design under this workload (message = code). */
const EXPECTED = new Set([
  "INSUFFICIENT_CREDITS",
  "JOB_NOT_PENDING",
  "JOB_EXPIRED",
  "IDEMPOTENCY_KEY_REUSED",
  "VALIDATION_FAILED", // commit below what was spent, extend beyond 24 h
]);

function env(name: string): string {
  const v = Deno.env.get(name);
  if (!v) throw new Error(`${name} is not set: run with \`deno task test\``);
  return v;
}

/** mulberry32: small, fast, good enough to drive a workload reproducibly. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
  };
}

interface AccountState {
  id: string;
  jobs: string[];
  charges: string[];
  keyCounter: number;
}

interface Tally {
  ops: Record<string, number>;
  expected: Record<string, number>;
  unexpected: string[];
  grantsApplied: number;
  chargesApplied: number;
  refundsApplied: number;
  startReplays: number;
}

function code(err: unknown): string {
  const e = err as { message?: string; code?: string };
  return e.code === "P0001" ? String(e.message) : `${e.code ?? "?"}: ${e.message ?? String(err)}`;
}

const TOKEN = new Uint8Array(32).fill(7);

Deno.test({
  name: `ledger invariants hold under ${WORKERS} random concurrent workers (seed ${SEED})`,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    console.log(`ledger workload seed=${SEED} (LEDGER_TEST_SEED to replay), ${SECONDS}s`);
    const api = postgres(env("TEST_API_DB_URL"), {
      max: WORKERS,
      prepare: false,
      onnotice: () => {},
    });
    const admin = postgres(env("TEST_ADMIN_DB_URL"), {
      max: 2,
      prepare: false,
      onnotice: () => {},
    });
    const run = crypto.randomUUID().slice(0, 8);
    const accounts: AccountState[] = Array.from({ length: ACCOUNTS }, () => ({
      id: crypto.randomUUID(),
      jobs: [],
      charges: [],
      keyCounter: 0,
    }));
    const tally: Tally = {
      ops: {},
      expected: {},
      unexpected: [],
      grantsApplied: 0,
      chargesApplied: 0,
      refundsApplied: 0,
      startReplays: 0,
    };

    try {
      for (const a of accounts) await api`select * from api.ensure_account(${a.id}::uuid, 20)`;

      // A recent key of the account, often one another worker is using right now.
      const startKey = (r: ReturnType<typeof prng>, a: AccountState) => {
        if (r.next() < 0.3) a.keyCounter++;
        return `${run}-k${Math.max(0, a.keyCounter - r.int(0, 2))}`;
      };
      // Parameters derived from the key, so a duplicate is a true retry (replay), except now
      // and then a deliberate mismatch (IDEMPOTENCY_KEY_REUSED).
      const keyAmount = (key: string) => (key.length % 3) + 1;

      const ops: Record<string, (r: ReturnType<typeof prng>, a: AccountState) => Promise<void>> = {
        start: async (r, a) => {
          const useKey = r.next() < 0.5;
          const key = useKey ? startKey(r, a) : null;
          const amount = key && r.next() < 0.95 ? keyAmount(key) : r.int(1, 5);
          const ttl = r.next() < 0.2 ? 1 : 600; // some jobs expire while the workload runs
          const [row] = await api`
            select job_id, replayed from api.start_job(${a.id}::uuid, ${amount}::bigint,
              ${key ? 600 : ttl}::int, null, ${key}::text, ${TOKEN}::bytea)`;
          if (row.replayed) tally.startReplays++;
          else a.jobs.push(row.job_id);
        },
        startComposed: async (r, a) => {
          const key = startKey(r, a);
          const amount = r.next() < 0.95 ? keyAmount(key) : 4;
          const hash = `h-${key}-${amount}`;
          const [row] = await api`
            select replayed, response from api.jobs_start(${a.id}::uuid, 20, null, null,
              ${amount}::bigint, 600, null, ${TOKEN}::bytea, ${"S-" + key}::text, ${hash}::text)`;
          if (row.replayed) tally.startReplays++;
          else a.jobs.push(row.response.jobId);
        },
        spend: async (r, a) => {
          if (a.jobs.length === 0) return;
          const job = r.pick(a.jobs);
          const ref = `s${r.int(0, 3)}`;
          await api`select * from api.spend_on_job(${a.id}::uuid, ${job}::uuid,
            ${(ref.charCodeAt(1) % 2) + 1}::bigint, ${ref}::text)`;
        },
        extend: async (r, a) => {
          if (a.jobs.length === 0) return;
          await api`select * from api.extend_job(${a.id}::uuid, ${r.pick(a.jobs)}::uuid,
            ${r.int(0, 2)}::bigint, ${r.int(1, 30)}::int)`;
        },
        commit: async (r, a) => {
          if (a.jobs.length === 0) return;
          const amount = r.next() < 0.5 ? null : r.int(0, 4);
          if (r.next() < 0.3) {
            const key = `${run}-ck${r.int(0, a.keyCounter + 2)}`;
            const job = r.pick(a.jobs);
            await api`select * from api.jobs_commit(${a.id}::uuid, ${job}::uuid, ${amount}::bigint,
              null, ${key}::text, ${`h-${job}-${amount}`}::text)`;
          } else {
            await api`select * from api.commit_job(${a.id}::uuid, ${
              r.pick(a.jobs)
            }::uuid, ${amount}::bigint)`;
          }
        },
        cancel: async (r, a) => {
          if (a.jobs.length === 0) return;
          await api`select * from api.cancel_job(${a.id}::uuid, ${r.pick(a.jobs)}::uuid)`;
        },
        charge: async (r, a) => {
          const ref = `${run}-c${r.int(0, 40)}`;
          const [row] = await api`select applied from api.charge(${a.id}::uuid,
            ${(ref.length % 3) + 1}::bigint, ${ref}::text)`;
          if (row.applied) {
            tally.chargesApplied++;
            a.charges.push(ref);
          }
        },
        refund: async (r, a) => {
          const ref = a.charges.length && r.next() < 0.9
            ? r.pick(a.charges)
            : `${run}-c${r.int(0, 40)}`;
          const amount = r.next() < 0.5 ? null : 1;
          try {
            const [row] =
              await api`select applied from api.refund(${a.id}::uuid, ${ref}::text, ${amount}::bigint)`;
            if (row.applied) tally.refundsApplied++;
          } catch (err) {
            if (code(err) === "NOT_FOUND") return; // never charged: expected
            throw err;
          }
        },
        grant: async (r, a) => {
          const ref = `${run}-g${r.int(0, 30)}`;
          const [row] = await api`select applied from api.grant(${a.id}::uuid,
            ${(ref.length % 5) + 1}::bigint, 'admin', ${ref}::text)`;
          if (row.applied) tally.grantsApplied++;
        },
        expire: async () => {
          await api`select api.expire_jobs()`;
        },
      };
      const weights: [string, number][] = [
        ["start", 18],
        ["startComposed", 8],
        ["spend", 14],
        ["extend", 6],
        ["commit", 14],
        ["cancel", 8],
        ["charge", 14],
        ["refund", 8],
        ["grant", 8],
        ["expire", 2],
      ];
      const total = weights.reduce((s, [, w]) => s + w, 0);
      const chooseOp = (r: ReturnType<typeof prng>) => {
        let x = r.next() * total;
        for (const [name, w] of weights) if ((x -= w) < 0) return name;
        return weights[0][0];
      };

      const deadline = Date.now() + SECONDS * 1000;
      await Promise.all(Array.from({ length: WORKERS }, async (_, w) => {
        const r = prng(SEED + w * 7919);
        while (Date.now() < deadline) {
          const name = chooseOp(r);
          const account = r.pick(accounts);
          tally.ops[name] = (tally.ops[name] ?? 0) + 1;
          try {
            await ops[name](r, account);
          } catch (err) {
            const c = code(err);
            if (EXPECTED.has(c)) tally.expected[c] = (tally.expected[c] ?? 0) + 1;
            else tally.unexpected.push(`${name}: ${c}`);
          }
        }
      }));
      // Settle what expired at the end, like the cron would.
      await api`select api.expire_jobs()`;
      console.log(
        JSON.stringify({ ops: tally.ops, expected: tally.expected, replays: tally.startReplays }),
      );

      assert.deepEqual(
        tally.unexpected.slice(0, 10),
        [],
        "no unexpected errors (deadlocks, constraints, ...)",
      );
      const opCount = Object.values(tally.ops).reduce((s, n) => s + n, 0);
      assert.ok(opCount > 1000, `the workload ran (${opCount} operations)`);
      assert.ok(tally.startReplays > 0, "duplicate idempotency keys did occur");

      const ids = accounts.map((a) => a.id);

      // 1. balance = Σ ledger, held = Σ pending holds, available >= 0.
      const mismatched = await admin`
        select a.id, a.balance, a.held,
               coalesce((select sum(l.delta) from credits.ledger l where l.account_id = a.id), 0) as ledger_sum,
               coalesce((select sum(j.amount) from credits.jobs j
                          where j.account_id = a.id and j.status = 'pending'), 0) as pending
          from credits.accounts a
         where a.id = any(${ids}::uuid[])
           and (a.balance <> coalesce((select sum(l.delta) from credits.ledger l where l.account_id = a.id), 0)
                or a.held <> coalesce((select sum(j.amount) from credits.jobs j
                                        where j.account_id = a.id and j.status = 'pending'), 0)
                or a.balance - a.held < 0)`;
      assert.deepEqual(
        [...mismatched],
        [],
        "balance = Σ ledger, held = Σ pending holds, available >= 0",
      );

      // 2. No job debited twice or released twice; a settled job's debit is its one ledger row.
      const badJobs = await admin`
        select j.id, j.status, j.debited, j.spent, d.n, d.total
          from credits.jobs j
          left join lateral (
            select count(*) as n, coalesce(-sum(l.delta), 0) as total from credits.ledger l
             where l.account_id = j.account_id and l.kind = 'job_debit' and l.cause_key = j.id::text
          ) d on true
         where j.account_id = any(${ids}::uuid[])
           and (d.n > 1
                or (j.status = 'pending' and (d.n <> 0 or j.debited is not null))
                or (j.status <> 'pending' and (j.debited is null or j.debited <> d.total
                                               or j.debited < j.spent or j.debited > j.amount))
                or (j.status in ('cancelled', 'expired') and j.debited <> j.spent)
                or j.spent <> coalesce((select sum(s.amount - s.unspent) from credits.job_spends s
                                         where s.job_id = j.id), 0))`;
      assert.deepEqual([...badJobs], [], "every job settled at most once with exactly its debit");
      const [jobStats] = await admin`
        select count(*) filter (where status = 'committed') as committed,
               count(*) filter (where status = 'cancelled') as cancelled,
               count(*) filter (where status = 'expired') as expired,
               count(*) filter (where status = 'pending') as pending
          from credits.jobs where account_id = any(${ids}::uuid[])`;
      console.log(JSON.stringify({ jobs: jobStats }));
      assert.ok(Number(jobStats.committed) > 0 && Number(jobStats.cancelled) > 0);
      assert.ok(Number(jobStats.expired) > 0, "some holds expired during the run");

      // 3. Charges refunded at most once, never above the charge; one ledger row per cause.
      const badCharges = await admin`
        select c.cause_key, -c.delta as charged, r.n, r.total
          from credits.ledger c
          left join lateral (
            select count(*) as n, coalesce(sum(l.delta), 0) as total from credits.ledger l
             where l.account_id = c.account_id and l.kind = 'refund' and l.cause_key = c.cause_key
          ) r on true
         where c.account_id = any(${ids}::uuid[]) and c.kind = 'charge'
           and (r.n > 1 or r.total > -c.delta)
        union all
        select l.cause_key, null, 1, l.delta from credits.ledger l
         where l.account_id = any(${ids}::uuid[]) and l.kind = 'refund'
           and not exists (select 1 from credits.ledger c where c.account_id = l.account_id
                            and c.kind = 'charge' and c.cause_key = l.cause_key)`;
      assert.deepEqual([...badCharges], [], "refunds at most once and at most the charge");
      const [dupCauses] = await admin`
        select count(*) as n from (
          select account_id, kind, cause_key from credits.ledger
           where account_id = any(${ids}::uuid[])
           group by 1, 2, 3 having count(*) > 1) d`;
      assert.equal(Number(dupCauses.n), 0, "no cause applied twice");

      // 4. grants + refunds − debits = Σ balances, and equals what the workers saw applied.
      const [sums] = await admin`
        select coalesce(sum(delta) filter (where kind in ('initial_grant', 'grant')), 0)::bigint as grants,
               coalesce(sum(delta) filter (where kind = 'refund'), 0)::bigint as refunds,
               coalesce(-sum(delta) filter (where kind in ('charge', 'job_debit')), 0)::bigint as debits,
               count(*) filter (where kind = 'grant') as grant_rows,
               count(*) filter (where kind = 'charge') as charge_rows,
               count(*) filter (where kind = 'refund') as refund_rows,
               (select sum(balance) from credits.accounts where id = any(${ids}::uuid[]))::bigint as balances
          from credits.ledger where account_id = any(${ids}::uuid[])`;
      assert.equal(
        BigInt(sums.grants) + BigInt(sums.refunds) - BigInt(sums.debits),
        BigInt(sums.balances),
        "grants + refunds − debits = Σ balances",
      );
      assert.equal(Number(sums.grant_rows), tally.grantsApplied, "every applied grant, once");
      assert.equal(Number(sums.charge_rows), tally.chargesApplied, "every applied charge, once");
      assert.equal(Number(sums.refund_rows), tally.refundsApplied, "every applied refund, once");

      // 5. Idempotent starts: one job per key, and a stored response names that job.
      const badKeys = await admin`
        select k.account_id, k.key from credits.idempotency_keys k
          left join credits.jobs j on j.account_id = k.account_id and j.idempotency_key = k.key
         where k.account_id = any(${ids}::uuid[]) and k.key like 'S-%' and k.status = 'completed'
           and k.response_status = 201
           and (j.id is null or (k.response_body -> 'json' ->> 'jobId')::uuid <> j.id)`;
      assert.deepEqual([...badKeys], [], "each start key maps to exactly its job");

      // 6. Every hash chain verifies.
      const broken = await admin`
        select v.account_id, v.problem from ops.verify_ledger_chains() v
         where v.account_id = any(${ids}::uuid[]) and not v.ok`;
      assert.deepEqual([...broken], [], "every account's hash chain verifies");
    } finally {
      await api.end({ timeout: 5 });
      await admin.end({ timeout: 5 });
    }
  },
});

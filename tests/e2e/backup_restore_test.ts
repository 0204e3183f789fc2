/**
 * Backup and restore round trip: `deno task backup` of the test database → a fresh database
 * on the same cluster (createdb; pg_cron lives only in `postgres`, so the restore must cope
 * without it) → `deno task restore` → every hash chain verifies, a full reconciliation finds
 * nothing, and the money is exactly what it was.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { testEnv } from "../support/env.ts";

const DB_TEST = { sanitizeOps: false, sanitizeResources: false };

async function run(args: string[], env: Record<string, string> = {}): Promise<string> {
  const out = await new Deno.Command(args[0], {
    args: args.slice(1),
    env,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `${args.slice(0, 4).join(" ")} failed:\n${text}`);
  return text;
}

interface Money {
  accounts: number;
  rows: number;
  balance: string;
  held: string;
  lastHash: string;
}

async function money(db: postgres.Sql): Promise<Money> {
  const [m] = await db<Money[]>`
    select (select count(*)::int from credits.accounts) as accounts,
           (select count(*)::int from credits.ledger) as rows,
           (select coalesce(sum(balance), 0)::text from credits.accounts) as balance,
           (select coalesce(sum(held), 0)::text from credits.accounts) as held,
           (select coalesce(md5(string_agg(hash, ',' order by id)), '') from credits.ledger) as "lastHash"`;
  return m;
}

Deno.test(
  "backup → fresh database → restore: chains verify, reconciliation finds nothing",
  DB_TEST,
  async () => {
    const sourceUrl = testEnv("TEST_ADMIN_DB_URL");
    const source = postgres(sourceUrl, { max: 1, prepare: false, onnotice: () => {} });
    const name = `tollgate_restore_${crypto.randomUUID().slice(0, 8)}`;
    const target = new URL(sourceUrl);
    target.pathname = `/${name}`;
    const dir = await Deno.makeTempDir();
    const file = `${dir}/tollgate.dump`;
    let restored: postgres.Sql | undefined;
    try {
      // money of every kind: grants, one-shot charges and refunds, a committed and a pending job
      const account = crypto.randomUUID();
      await source`select api.ensure_account(${account}::uuid, 50)`;
      await source`select api.charge(${account}::uuid, 7, 'backup-test-charge')`;
      await source`select api.refund(${account}::uuid, 'backup-test-charge')`;
      await source`select api.grant(${account}::uuid, 5, 'promo', 'backup-test-grant')`;
      const token = new Uint8Array(32).fill(7);
      for (const key of ["backup-job-1", "backup-job-2"]) {
        await source`select api.start_job(${account}::uuid, 10::bigint, 600, null, ${key}, ${token})`;
      }
      const [job] = await source<{ id: string }[]>`
      select id from credits.jobs where account_id = ${account} and idempotency_key = 'backup-job-1'`;
      await source`select api.commit_job(${account}::uuid, ${job.id}::uuid, 4::bigint)`;
      const before = await money(source);

      const backupOut = await run([
        Deno.execPath(),
        "run",
        "-A",
        "supabase/local/backup.ts",
        "--db-url",
        sourceUrl,
        "--out",
        file,
      ]);
      assert.match(backupOut, /schemas credits, api, ops, audit/);
      assert.ok((await Deno.stat(file)).size > 0);

      const port = new URL(sourceUrl).port;
      await run([
        "createdb",
        "-h",
        "127.0.0.1",
        "-p",
        port,
        "-U",
        decodeURIComponent(target.username),
        name,
      ], {
        PGPASSWORD: decodeURIComponent(target.password),
      });
      const restoreOut = await run([
        Deno.execPath(),
        "run",
        "-A",
        "supabase/local/restore.ts",
        file,
        "--db-url",
        target.href,
      ]);
      assert.match(restoreOut, /hash chains: all verify/);
      assert.match(restoreOut, /full reconcile: ok, 0 discrepancies/);
      assert.match(
        restoreOut,
        /left out \(no pg_cron in this database\): VIEW audit cron_job_health/,
      );

      restored = postgres(target.href, { max: 1, prepare: false, onnotice: () => {} });
      assert.deepEqual(
        await money(restored),
        before,
        "the same accounts, ledger rows, balances, holds and hashes",
      );
      const broken = await restored`select account_id from ops.verify_ledger_chains() where not ok`;
      assert.equal(broken.length, 0, "every hash chain verifies");
      const [full] = await restored<
        { status: string; discrepancies: number; rows_checked: string }[]
      >`
      select status, discrepancies, rows_checked from ops.reconcile('full')`;
      assert.equal(full.status, "ok");
      assert.equal(full.discrepancies, 0);
      assert.equal(Number(full.rows_checked), before.rows);
      const [balance] = await restored<{ balance: string; held: string }[]>`
      select balance::text, held::text from credits.accounts where id = ${account}`;
      assert.deepEqual(balance, { balance: String(50 - 7 + 7 + 5 - 4), held: "10" });
      const lint =
        await restored`select * from ops.lint() where check_name <> 'function_role_table_privilege'`;
      assert.equal(lint.length, 0, "the restored schema passes the security lint");

      // a non-empty target is refused
      const again = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "supabase/local/restore.ts", file, "--db-url", target.href],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(again.success, false);
      assert.match(new TextDecoder().decode(again.stderr), /not empty/);
    } finally {
      await restored?.end({ timeout: 5 });
      await source.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
      await source.end({ timeout: 5 });
      await Deno.remove(dir, { recursive: true });
    }
  },
);

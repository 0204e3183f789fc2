/**
 * `deno task restore FILE [--db-url URL]` — restores a `deno task backup` file into an EMPTY
 * database (one without Tollgate's schemas), then proves it: every ledger hash chain verifies
 * and a full reconciliation finds nothing.
 *
 * The target: --db-url, else DATABASE_URL, else the local stack's database. Create a fresh one
 * first, e.g. `createdb -h 127.0.0.1 -p 54322 -U postgres tollgate_restored`, or a new Supabase
 * project (use its direct connection string, role postgres).
 *
 * Steps:
 *  1. Refuse a target that already has schema credits, api, ops or audit.
 *  2. Prerequisites the dump does not carry: the function role tollgate_api; on a plain
 *     Postgres the Supabase-compatible bootstrap (roles anon/authenticated/service_role,
 *     schema auth with auth.uid(), which the RLS policies call); schema extensions with
 *     pgcrypto (the ledger hash uses extensions.digest).
 *  3. pg_restore in one transaction, objects owned by the restoring role. pg_cron exists only
 *     in database `postgres`: in any other database everything that refers to schema cron (the
 *     audit.cron_job_health view) is left out, and no cron jobs exist there — schedule them by
 *     running 20261124000590_cron_schedules.sql where pg_cron lives.
 *  4. Verify: ops.verify_ledger_chains() must report no broken account and
 *     ops.reconcile('full') no discrepancy (it also resets the reconcile checkpoints).
 * Set the function role's password afterwards (`alter role tollgate_api password '...'`).
 */
import { BOOTSTRAP_SQL } from "./paths.ts";
import { databaseUrl, pgTool, query, runTool, TOLLGATE_SCHEMAS } from "./backup.ts";

export interface RestoreResult {
  /** TOC entries left out because the target has no pg_cron. */
  skipped: string[];
  accounts: number;
  ledgerRows: number;
  brokenChains: number;
  reconcile: { status: string; discrepancies: number; rowsChecked: number };
}

export async function restore(file: string, url: string): Promise<RestoreResult> {
  await Deno.stat(file);
  const present = await query(
    url,
    `select coalesce(string_agg(nspname, ','), '') from pg_namespace where nspname in ('${
      TOLLGATE_SCHEMAS.join("','")
    }')`,
  );
  if (present !== "") {
    throw new Error(
      `the target database is not empty (schema(s) ${present} exist); restore into a fresh database`,
    );
  }

  // 2. prerequisites
  if ((await query(url, "select count(*) from pg_namespace where nspname = 'auth'")) === "0") {
    await runTool(pgTool("psql"), [
      "-X",
      "-q",
      "-v",
      "ON_ERROR_STOP=1",
      "-d",
      url,
      "-f",
      BOOTSTRAP_SQL,
    ]);
  }
  await query(
    url,
    `do $$ begin
       if not exists (select 1 from pg_roles where rolname = 'tollgate_api') then
         create role tollgate_api login noinherit;
       end if;
     end $$;
     create schema if not exists extensions;
     create extension if not exists pgcrypto with schema extensions;`,
  );
  const hasCron =
    (await query(url, "select count(*) from pg_namespace where nspname = 'cron'")) !== "0";

  // 3. restore, leaving out what needs pg_cron when the target has none
  const toc = await runTool(pgTool("pg_restore"), ["--list", file]);
  const skipped: string[] = [];
  const list = toc.split("\n").map((line) => {
    if (!hasCron && /\bcron_job_health\b/.test(line) && !line.startsWith(";")) {
      skipped.push(line.replace(/^\d+;\s*\d+\s+\d+\s+/, ""));
      return `;${line}`;
    }
    return line;
  }).join("\n");
  const listFile = await Deno.makeTempFile({ suffix: ".list" });
  try {
    await Deno.writeTextFile(listFile, list);
    await runTool(pgTool("pg_restore"), [
      "--no-owner",
      "--exit-on-error",
      "--single-transaction",
      `--use-list=${listFile}`,
      `--dbname=${url}`,
      file,
    ]);
  } finally {
    await Deno.remove(listFile);
  }

  // 4. verify
  const accounts = Number(await query(url, "select count(*) from credits.accounts"));
  const ledgerRows = Number(await query(url, "select count(*) from credits.ledger"));
  const brokenChains = Number(
    await query(url, "select count(*) from ops.verify_ledger_chains() where not ok"),
  );
  const [status, discrepancies, rowsChecked] = (await query(
    url,
    "select status || '|' || discrepancies || '|' || rows_checked from ops.reconcile('full')",
  )).split("|");
  return {
    skipped,
    accounts,
    ledgerRows,
    brokenChains,
    reconcile: { status, discrepancies: Number(discrepancies), rowsChecked: Number(rowsChecked) },
  };
}

if (import.meta.main) {
  const file = Deno.args.find((a, i) => !a.startsWith("--") && Deno.args[i - 1] !== "--db-url");
  if (!file) {
    console.error(
      "usage: deno task restore FILE [--db-url postgres://postgres:...@host:port/empty_db]",
    );
    Deno.exit(2);
  }
  try {
    const r = await restore(file, databaseUrl(Deno.args));
    for (const entry of r.skipped) {
      console.log(`[restore] left out (no pg_cron in this database): ${entry}`);
    }
    console.log(`[restore] ${r.accounts} accounts, ${r.ledgerRows} ledger rows restored`);
    console.log(
      `[restore] hash chains: ${r.brokenChains === 0 ? "all verify" : `${r.brokenChains} BROKEN`}`,
    );
    console.log(
      `[restore] full reconcile: ${r.reconcile.status}, ${r.reconcile.discrepancies} discrepancies, ` +
        `${r.reconcile.rowsChecked} rows checked`,
    );
    console.log(
      "[restore] next: set tollgate_api's password; schedule pg_cron (20261124000590_cron_schedules.sql) in database postgres",
    );
    if (r.brokenChains > 0 || r.reconcile.discrepancies > 0) Deno.exit(1);
  } catch (error) {
    console.error(`[restore] ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}

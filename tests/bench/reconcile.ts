/**
 * `deno task bench:reconcile` — full vs incremental reconciliation (issue 7; not a test).
 *
 * 1. A throwaway cluster built from the migrations (or BENCH_DB_URL: an EMPTY Tollgate database,
 *    superuser), with BENCH_LEDGER_ROWS (default 1,000,000) ledger rows over BENCH_ACCOUNTS
 *    (default 2,000) accounts, written through the real ledger trigger so every hash chain is
 *    valid (grants and one-shot charges, batch after batch).
 * 2. ops.reconcile('full') over all of it (this also sets every checkpoint).
 * 3. BENCH_NEW_ROWS (default 10,000) new rows on 1,000 accounts, then ops.reconcile() —
 *    the incremental run, from the checkpoints.
 * Steps 2-3 run BENCH_ROUNDS times (default 3; the machine may be shared) and the best of each
 * is reported. Prints both runs' reports and the ratio incremental / full. Target: <= 5 %.
 */
import { join } from "../../supabase/local/path.ts";
import { LOCAL_DIR } from "../../supabase/local/paths.ts";
import { clusterAt, prepareDatabase, removeCluster } from "../../supabase/local/postgres.ts";
import postgres from "postgres";

const ROWS = Number(Deno.env.get("BENCH_LEDGER_ROWS") ?? 1_000_000);
const ACCOUNTS = Number(Deno.env.get("BENCH_ACCOUNTS") ?? 2_000);
const NEW_ROWS = Number(Deno.env.get("BENCH_NEW_ROWS") ?? 10_000);
const NEW_ACCOUNTS = Math.min(1_000, ACCOUNTS);
const BATCH = 50_000;
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);
const PORT = 54397;

interface Report {
  mode: string;
  status: string;
  duration_ms: string;
  accounts_checked: number;
  rows_checked: string;
  rows_scanned: string;
  discrepancies: number;
}

/** Appends `count` rows round-robin over accounts [0, accounts), numbered from `start`. */
async function appendRows(
  sql: postgres.Sql,
  start: number,
  count: number,
  accounts: number,
  tag: string,
) {
  for (let done = 0; done < count; done += BATCH) {
    const n = Math.min(BATCH, count - done);
    // Per account: grant +2, charge -1, grant +2, ... so balances stay positive.
    await sql.unsafe(`
      insert into credits.ledger (account_id, kind, cause_type, cause_key, reason, delta)
      select ('b0000000-0000-0000-0000-' || lpad((i % ${accounts})::text, 12, '0'))::uuid,
             case when (i / ${accounts}) % 2 = 0 then 'grant' else 'charge' end,
             case when (i / ${accounts}) % 2 = 0 then 'grant' else 'charge' end,
             '${tag}-' || i,
             case when (i / ${accounts}) % 2 = 0 then 'bench' end,
             case when (i / ${accounts}) % 2 = 0 then 2 else -1 end
        from generate_series(${start + done}, ${start + done + n - 1}) i
       order by i`);
    Deno.stdout.writeSync(
      new TextEncoder().encode(`\r[bench] ${tag}: ${done + n} / ${count} rows`),
    );
  }
  console.log();
}

async function main() {
  const external = Deno.env.get("BENCH_DB_URL");
  const cluster = external ? undefined : clusterAt(join(LOCAL_DIR, "bench-reconcile"), PORT);
  if (cluster) {
    console.log(`[bench] building a throwaway cluster on 127.0.0.1:${PORT} from the migrations …`);
    await prepareDatabase(cluster, { fresh: true });
  }
  const url = external ?? cluster!.adminUrl;
  const sql = postgres(url, { max: 1, prepare: false, onnotice: () => {} });
  try {
    const [{ n }] = await sql<{ n: string }[]>`select count(*) as n from credits.ledger`;
    if (Number(n) > 0) throw new Error("the bench database must start with an empty ledger");

    console.log(`[bench] ${ACCOUNTS} accounts, ${ROWS} ledger rows through the ledger trigger …`);
    await sql.unsafe(
      `select api.ensure_account(('b0000000-0000-0000-0000-' || lpad(a::text, 12, '0'))::uuid, 0)
                        from generate_series(0, ${ACCOUNTS - 1}) a`,
    );
    const t0 = performance.now();
    await appendRows(sql, 0, ROWS, ACCOUNTS, "base");
    console.log(`[bench] generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await sql.unsafe("vacuum analyze credits.ledger, credits.accounts, credits.jobs");

    // The machine may be busy: three rounds of [full, 10k new rows, incremental], best of each.
    const fulls: Report[] = [];
    const incrementals: Report[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      fulls.push((await sql<Report[]>`select * from ops.reconcile('full')`)[0]);
      await appendRows(sql, ROWS + (round - 1) * NEW_ROWS, NEW_ROWS, NEW_ACCOUNTS, `new${round}`);
      incrementals.push((await sql<Report[]>`select * from ops.reconcile('incremental')`)[0]);
      console.log(
        `[bench] round ${round}: full ${Number(fulls.at(-1)!.duration_ms).toFixed(1)} ms, ` +
          `incremental ${Number(incrementals.at(-1)!.duration_ms).toFixed(1)} ms ` +
          `(${incrementals.at(-1)!.accounts_checked} accounts, ${
            incrementals.at(-1)!.rows_checked
          } rows)`,
      );
    }
    const best = (runs: Report[]) =>
      runs.reduce((a, b) => (Number(a.duration_ms) <= Number(b.duration_ms) ? a : b));
    const full = best(fulls);
    const incremental = best(incrementals);
    const show = (r: Report) =>
      `${r.mode.padEnd(11)} ${Number(r.duration_ms).toFixed(1).padStart(10)} ms  ` +
      `${r.accounts_checked} accounts, ${r.rows_checked} rows verified, ${r.rows_scanned} scanned, ` +
      `${r.discrepancies} discrepancies (${r.status})`;
    const ratio = Number(incremental.duration_ms) / Number(full.duration_ms);
    console.log("");
    console.log(
      `[bench] ledger: ${ROWS} rows, then ${NEW_ROWS} new rows per round (best of ${ROUNDS})`,
    );
    console.log(`[bench] ${show(full)}`);
    console.log(`[bench] ${show(incremental)}`);
    console.log(
      `[bench] incremental / full = ${(ratio * 100).toFixed(2)} % (target <= 5 %) ${
        ratio <= 0.05 ? "OK" : "MISSED"
      }`,
    );
    if (full.discrepancies !== 0 || incremental.discrepancies !== 0) {
      throw new Error("the bench ledger should reconcile cleanly");
    }
  } finally {
    await sql.end({ timeout: 5 });
    if (cluster && !Deno.args.includes("--keep")) await removeCluster(cluster);
  }
}

if (import.meta.main) await main();

/**
 * `deno task bench:ledger` — the ledger benchmark of issue 4 (not a test).
 *
 * In ONE run against ONE server, with the same client tool (pgbench) and the same settings
 * (16 clients, 2 threads, simple query protocol, BENCH_SECONDS each, default 10):
 *   baseline      pgbench -b simple-update        (before and after every workload below)
 *   charge        api.charge, 1 credit, spread over 1000 accounts          tests/bench/sql/charge.sql
 *   start+commit  api.start_job + api.commit_job (two transactions)         tests/bench/sql/start_commit.sql
 *   the same two with all 16 clients on ONE hot account
 *   composed      api.jobs_start + api.jobs_commit as the functions call them (flag, account,
 *                 rate limit, idempotency key, hold; then commit with a key)
 * and prints TPS and the ratio to the mean of the two baseline runs around it. Targets:
 * charge >= 0.8x, start+commit (pairs/s) >= 0.4x.
 *
 * Database: DATABASE_URL (superuser; the api runs as tollgate_api with the local password,
 * like `deno task start`), else the dev cluster on 127.0.0.1:54322, started (and migrated) if
 * needed and stopped again afterwards. `--fresh` rebuilds the dev cluster from the migrations
 * first (do it after migrations changed). The api scripts run as tollgate_api (BENCH_API_DB_URL
 * overrides).
 */
import { join } from "../../supabase/local/path.ts";
import { DEV_PORTS, LOCAL_DIR, ROOT } from "../../supabase/local/paths.ts";
import {
  type Cluster,
  clusterAt,
  isRunning,
  prepareDatabase,
  stopCluster,
} from "../../supabase/local/postgres.ts";

const PG_BIN = "/usr/lib/postgresql/15/bin";
const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? "10");
const CLIENTS = 16;
const THREADS = 2;
const SQL_DIR = join(ROOT, "tests/bench/sql");

interface Result {
  name: string;
  tps: number;
  /** Target ratio to the baseline, if any. */
  target?: number;
  note?: string;
}

async function exec(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    env: { ...Deno.env.toObject(), ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${text}`);
  return text;
}

function psql(url: string, ...args: string[]): Promise<string> {
  return exec(join(PG_BIN, "psql"), [url, "-X", "-q", "-v", "ON_ERROR_STOP=1", ...args]);
}

async function canConnect(url: string): Promise<boolean> {
  try {
    await psql(url, "-c", "select 1");
    return true;
  } catch {
    return false;
  }
}

function apiUrlFor(adminUrl: string): string {
  const u = new URL(adminUrl);
  u.username = "tollgate_api";
  u.password = "tollgate-local";
  return u.href;
}

/** One pgbench run; returns TPS (without initial connection time). */
async function pgbench(url: string, args: string[]): Promise<number> {
  const text = await exec(join(PG_BIN, "pgbench"), [
    "-n",
    "-c",
    String(CLIENTS),
    "-j",
    String(THREADS),
    "-T",
    String(SECONDS),
    ...args,
    url,
  ]);
  const failed = /number of failed transactions: (\d+)/.exec(text);
  if (failed && Number(failed[1]) > 0) throw new Error(`pgbench reported failures:\n${text}`);
  const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(text);
  if (!m) throw new Error(`could not read TPS from pgbench:\n${text}`);
  return Number(m[1]);
}

/**
 * The functions' composed calls: api.jobs_start then api.jobs_commit, each with a key, on the
 * accounts of tests/bench/sql/setup.sql ('00000000-0000-4000-8000-' || 100000000000 + n).
 */
const COMPOSED_SCRIPT = `
\\set a 100000000000 + random(1, :accounts)
\\set k random(1, 9000000000000000000)
select response->>'jobId' as job from api.jobs_start('00000000-0000-4000-8000-:a', 0, 7000, 60, 1, 900, null, '\\xabababababababababababababababababababababababababababababababab', 'bench-s-:k', 'h:k') \\gset
select replayed from api.jobs_commit('00000000-0000-4000-8000-:a', ':job', null, null, 'bench-c-:k', 'h:k');
`;

async function main(): Promise<number> {
  const fresh = Deno.args.includes("--fresh");
  const external = Deno.env.get("DATABASE_URL");
  let cluster: Cluster | null = null;
  let startedHere = false;
  let adminUrl: string;
  if (external) {
    adminUrl = external;
    if (fresh) console.warn("[bench] --fresh ignored: DATABASE_URL is set");
  } else {
    cluster = clusterAt(join(LOCAL_DIR, "db"), DEV_PORTS.db);
    adminUrl = cluster.adminUrl;
    const running = await isRunning(cluster);
    if (fresh || !running || !(await canConnect(adminUrl))) {
      console.log(
        `[bench] preparing the dev cluster on 127.0.0.1:${cluster.port}${
          fresh ? " (fresh)" : ""
        } …`,
      );
      await prepareDatabase(cluster, { fresh });
      startedHere = !running || fresh;
    }
  }
  const apiUrl = Deno.env.get("BENCH_API_DB_URL") ?? cluster?.apiUrl ?? apiUrlFor(adminUrl);

  try {
    const version = (await psql(adminUrl, "-At", "-c", "select version()")).trim();
    const settings = (await psql(
      adminUrl,
      "-At",
      "-c",
      "select string_agg(name || '=' || setting, ' ') from pg_settings where name in " +
        "('fsync','synchronous_commit','shared_buffers','max_connections')",
    )).trim();
    console.log(`[bench] ${version.split(",")[0]}; ${settings}`);
    console.log(
      `[bench] ${CLIENTS} clients, ${THREADS} threads, ${SECONDS}s per run, ${navigator.hardwareConcurrency} CPUs`,
    );

    console.log("[bench] setup: pgbench -i -s 10, 1000 funded benchmark accounts …");
    await exec(join(PG_BIN, "pgbench"), ["-i", "-q", "-s", "10", adminUrl]);
    await psql(adminUrl, "-f", join(SQL_DIR, "setup.sql"));
    const composed = await Deno.makeTempFile({ suffix: ".sql" });
    await Deno.writeTextFile(composed, COMPOSED_SCRIPT);

    const checkpoint = () => psql(adminUrl, "-c", "checkpoint");
    const run = async (
      name: string,
      url: string,
      args: string[],
      target?: number,
      note?: string,
    ) => {
      await checkpoint();
      const tps = await pgbench(url, args);
      console.log(`[bench] ${name.padEnd(42)} ${tps.toFixed(0).padStart(7)} tps`);
      return { name, tps, target, note } as Result;
    };

    // Baselines sandwich every workload (B W B W ... B): each ratio uses the mean of the two
    // baselines next to it, so background load that drifts during the run cancels out.
    const file = (f: string) => ["-f", join(SQL_DIR, f)];
    const workloads: [string, string[], number | undefined, string | undefined][] = [
      ["charge, 1000 accounts", [...file("charge.sql"), "-D", "accounts=1000"], 0.8, undefined],
      [
        "start+commit, 1000 accounts (pairs)",
        [...file("start_commit.sql"), "-D", "accounts=1000"],
        0.4,
        undefined,
      ],
      [
        "charge, 1 hot account",
        [...file("charge.sql"), "-D", "accounts=1"],
        undefined,
        "one row lock, by design",
      ],
      [
        "start+commit, 1 hot account (pairs)",
        [...file("start_commit.sql"), "-D", "accounts=1"],
        undefined,
        "one row lock, by design",
      ],
      [
        "composed jobs_start+jobs_commit (pairs)",
        ["-f", composed, "-D", "accounts=1000"],
        undefined,
        "what the functions run",
      ],
    ];
    const baselines: number[] = [
      (await run("pgbench simple-update", adminUrl, ["-b", "simple-update"])).tps,
    ];
    const results: (Result & { baseline: number })[] = [];
    for (const [name, args, target, note] of workloads) {
      const r = await run(name, apiUrl, args, target, note);
      const after = (await run("pgbench simple-update", adminUrl, ["-b", "simple-update"])).tps;
      results.push({ ...r, baseline: (baselines[baselines.length - 1] + after) / 2 });
      baselines.push(after);
    }
    await Deno.remove(composed);

    const mean = baselines.reduce((x, y) => x + y, 0) / baselines.length;
    console.log("");
    console.log(
      `pgbench simple-update: ${baselines.map((b) => b.toFixed(0)).join(", ")} tps ` +
        `(mean ${mean.toFixed(0)}; the spread is the machine's background noise)`,
    );
    console.log("");
    console.log(`| run | TPS | simple-update next to it | ratio | target |`);
    console.log(`|---|---:|---:|---:|---|`);
    let missed = 0;
    for (const r of results) {
      const ratio = r.tps / r.baseline;
      let verdict = r.note ?? "";
      if (r.target !== undefined) {
        const ok = ratio >= r.target;
        if (!ok) missed++;
        verdict = `≥ ${r.target}: ${ok ? "met" : "MISSED"}`;
      }
      console.log(
        `| ${r.name} | ${r.tps.toFixed(0)} | ${r.baseline.toFixed(0)} | ${
          ratio.toFixed(2)
        } | ${verdict} |`,
      );
    }
    const load = await Deno.readTextFile("/proc/loadavg").catch(() => "");
    if (load) {
      console.log(`\n[bench] load average at the end: ${load.split(" ").slice(0, 3).join(" ")}`);
    }
    return missed === 0 ? 0 : 1;
  } finally {
    if (cluster && startedHere) await stopCluster(cluster);
  }
}

if (import.meta.main) Deno.exit(await main());

/**
 * `deno task bench:proxy` — the AI proxy benchmark of issue 5 (not a test).
 *
 * One run, the same load against both sides: BENCH_CONCURRENCY (32) concurrent clients sending
 * non-streamed chat completions (gpt-4o-mini, "WORDS:20") for BENCH_SECONDS (10) each, to
 *   (a) bare   a minimal Deno pass-through proxy (fetch upstream, return its answer), and
 *   (b) tollgate  the local gateway + ai function, paying by job (X-Job-Id/X-Job-Token): JWT
 *                 (ES256 via JWKS), validation, api.ai_begin, upstream, api.ai_settle,
 * both in front of the same fake upstream (tests/fakes/openai_upstream.ts). Prints requests/s,
 * p50 and p99 of both, the added latency, and the SQL round trips per paid call, counted with
 * pg_stat_statements (top-level statements of the tollgate_api role during (b) / calls).
 * Targets: ≤ 2 round trips per paid call; added p50 ≤ 3 ms, p99 ≤ 10 ms; RPS ≥ 0.5 × bare.
 *
 * Everything runs on this machine: a throwaway Postgres cluster (supabase/.local/bench-proxy,
 * built from the migrations), the fake upstream, the gateway (LOG_LEVEL=warn, so per-request log
 * lines do not dominate; rate limiting ON with RATE_LIMIT_CHAT=7000/60 so the limit stays on the
 * path) and the bare proxy are separate processes; the load generator is this process.
 *
 *   deno task bench:proxy            BENCH_SECONDS=10 BENCH_CONCURRENCY=32 BENCH_WARMUP_SECONDS=2
 *   deno run -A tests/bench/proxy.ts --bare-proxy <port> <upstream origin>   (used internally)
 */
import postgres from "postgres";
import { generateJobToken } from "../../functions/_shared/jobs/token.ts";
import { DEV_JWT_SECRET, mintUserToken } from "../../supabase/local/keys.ts";
import { join } from "../../supabase/local/path.ts";
import { LOCAL_DIR, ROOT } from "../../supabase/local/paths.ts";
import {
  clusterAt,
  prepareDatabase,
  psql,
  removeCluster,
  startCluster,
  stopCluster,
} from "../../supabase/local/postgres.ts";

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? "10");
const WARMUP_SECONDS = Number(Deno.env.get("BENCH_WARMUP_SECONDS") ?? "2");
const CONCURRENCY = Number(Deno.env.get("BENCH_CONCURRENCY") ?? "32");
/** ES256 (JWKS, Supabase's asymmetric keys; the default) or HS256 (legacy shared secret). */
const JWT_ALG = (Deno.env.get("BENCH_JWT_ALG") ?? "ES256") as "ES256" | "HS256";
const API_KEY = "sk-bench-fake-upstream-key";
const BODY = JSON.stringify({
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: "Say something short. WORDS:20" }],
});

// --- (a) the bare pass-through proxy (a process of its own) -------------------------------------

function serveBareProxy(port: number, upstreamOrigin: string): void {
  Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const path = url.pathname.replace(/^.*\/v1\//, "/v1/");
    const res = await fetch(`${upstreamOrigin}${path}`, {
      method: req.method,
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: req.method === "POST" ? await req.arrayBuffer() : undefined,
    });
    return new Response(res.body, {
      status: res.status,
      headers: { "content-type": res.headers.get("content-type") ?? "application/json" },
    });
  });
}

// --- processes ---------------------------------------------------------------------------------

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function spawn(args: string[], env: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
}

async function waitFor(url: string, init?: RequestInit): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, init);
      await res.body?.cancel();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} did not come up`);
}

// --- CPU accounting (Linux /proc): where the time goes, per request ----------------------------

const TICK_MS = 10; // USER_HZ = 100 on Linux

function cpuOf(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS; // utime + stime
  } catch {
    return 0;
  }
}

/** CPU ms of the postmaster's children (backends, checkpointer, …), by pid. */
function postgresCpu(postmaster: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) !== postmaster) continue;
      out.set(Number(entry.name), (Number(fields[11]) + Number(fields[12])) * TICK_MS);
    } catch { /* gone */ }
  }
  return out;
}

interface CpuSnapshot {
  processes: Record<string, number>;
  postgres: Map<number, number>;
  /** Machine-wide [busy, total] jiffies from /proc/stat. */
  machine: [number, number];
}

function machineJiffies(): [number, number] {
  const line = Deno.readTextFileSync("/proc/stat").split("\n")[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + (v[4] ?? 0); // idle + iowait
  const total = v.reduce((a, b) => a + b, 0);
  return [total - idle, total];
}

/** Share of all cores busy between two snapshots (everything on the machine). */
function machineBusy(a: CpuSnapshot, b: CpuSnapshot): number {
  return (b.machine[0] - a.machine[0]) / Math.max(1, b.machine[1] - a.machine[1]);
}

function snapshot(pids: Record<string, number>, postmaster: number): CpuSnapshot {
  const processes: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) processes[name] = cpuOf(pid);
  return { processes, postgres: postgresCpu(postmaster), machine: machineJiffies() };
}

/** CPU ms per request of each component between two snapshots. */
function cpuPerRequest(a: CpuSnapshot, b: CpuSnapshot, requests: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of Object.keys(b.processes)) {
    out[name] = (b.processes[name] - (a.processes[name] ?? 0)) / Math.max(1, requests);
  }
  let pg = 0;
  for (const [pid, ms] of b.postgres) pg += ms - (a.postgres.get(pid) ?? 0);
  out.postgres = pg / Math.max(1, requests);
  return out;
}

// --- load -------------------------------------------------------------------------------------

interface Worker {
  url: string;
  headers: Record<string, string>;
}

interface RunResult {
  requests: number;
  errors: number;
  seconds: number;
  latencies: Float64Array;
}

async function load(workers: Worker[], seconds: number): Promise<RunResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError = "";
  const started = performance.now();
  const endAt = started + seconds * 1000;
  await Promise.all(workers.map(async (w) => {
    while (performance.now() < endAt) {
      const t0 = performance.now();
      try {
        const res = await fetch(w.url, { method: "POST", headers: w.headers, body: BODY });
        const text = await res.text();
        if (res.status !== 200) {
          errors++;
          firstError ||= `${res.status} ${text.slice(0, 200)}`;
          continue;
        }
        latencies.push(performance.now() - t0);
      } catch (err) {
        errors++;
        firstError ||= String(err);
      }
    }
  }));
  if (firstError) console.warn(`  first error: ${firstError}`);
  return {
    requests: latencies.length,
    errors,
    seconds: (performance.now() - started) / 1000,
    latencies: Float64Array.from(latencies).sort(),
  };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// --- main -------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const ports = { db: freePort(), gateway: freePort(), fake: freePort(), bare: freePort() };
  const cluster = clusterAt(join(LOCAL_DIR, "bench-proxy"), ports.db);
  const children: Deno.ChildProcess[] = [];
  console.log(
    `bench:proxy — ${CONCURRENCY} clients, ${SECONDS} s per side (+${WARMUP_SECONDS} s warm-up)`,
  );
  console.log(`building a throwaway database on 127.0.0.1:${ports.db} …`);
  try {
    await prepareDatabase(cluster, { fresh: true });
    // pg_stat_statements counts the round trips (top-level statements).
    await psql(cluster, {
      sql: "alter system set shared_preload_libraries = 'pg_cron', 'pg_stat_statements'",
    });
    await stopCluster(cluster);
    await startCluster(cluster);
    await psql(cluster, { sql: "create extension if not exists pg_stat_statements" });

    const supabaseUrl = `http://127.0.0.1:${ports.gateway}`;
    const admin = postgres(cluster.adminUrl, { max: 4, prepare: false, onnotice: () => {} });
    const workers: { tollgate: Worker; bare: Worker }[] = [];
    for (let i = 0; i < CONCURRENCY; i++) {
      const account = crypto.randomUUID();
      const token = await generateJobToken();
      await admin`select * from api.ensure_account(${account}::uuid, 0)`;
      await admin`select * from api.grant(${account}::uuid, 1000000000, 'admin', 'bench')`;
      const [job] = await admin<{ job_id: string }[]>`
        select job_id from api.start_job(${account}::uuid, 100000000, 3600, null, null, ${token.hash}::bytea)`;
      const jwt = await mintUserToken({
        supabaseUrl,
        sub: account,
        ttlSeconds: 3600,
        alg: JWT_ALG,
        hsSecret: DEV_JWT_SECRET,
      });
      const headers = {
        authorization: `Bearer ${jwt}`,
        "content-type": "application/json",
        "x-job-id": job.job_id,
        "x-job-token": token.token,
      };
      workers.push({
        tollgate: { url: `${supabaseUrl}/functions/v1/ai/v1/chat/completions`, headers },
        bare: { url: `http://127.0.0.1:${ports.bare}/v1/chat/completions`, headers },
      });
    }

    const env: Record<string, string> = {
      ...Deno.env.toObject(),
      ENVIRONMENT: "development",
      SUPABASE_URL: supabaseUrl,
      SUPABASE_DB_URL: cluster.adminUrl,
      TOLLGATE_DB_URL: cluster.apiUrl,
      SUPABASE_JWT_SECRET: DEV_JWT_SECRET,
      OPENAI_BASE_URL: `http://127.0.0.1:${ports.fake}/v1`,
      OPENAI_API_KEY: API_KEY,
      FAKE_UPSTREAM_API_KEY: API_KEY,
      LOG_LEVEL: "warn",
      ENABLE_RATE_LIMITING: "true",
      RATE_LIMIT_CHAT: "7000/60",
    };
    children.push(spawn(["tests/fakes/openai_upstream.ts", "--port", String(ports.fake)], env));
    await waitFor(`http://127.0.0.1:${ports.fake}/__control/stats`);
    children.push(spawn(["supabase/local/gateway.ts", "--port", String(ports.gateway)], env));
    await waitFor(`${supabaseUrl}/auth/v1/.well-known/jwks.json`);
    children.push(
      spawn([
        "tests/bench/proxy.ts",
        "--bare-proxy",
        String(ports.bare),
        `http://127.0.0.1:${ports.fake}`,
      ], env),
    );
    await waitFor(`http://127.0.0.1:${ports.bare}/v1/models`);

    console.log("warming up …");
    await load(workers.map((w) => w.bare), WARMUP_SECONDS);
    await load(workers.map((w) => w.tollgate), WARMUP_SECONDS);

    const postmaster = Number(
      Deno.readTextFileSync(join(cluster.dataDir, "postmaster.pid")).split("\n")[0],
    );
    const pids = {
      "load generator": Deno.pid,
      "fake upstream": children[0].pid,
      gateway: children[1].pid,
      "bare proxy": children[2].pid,
    };
    console.log("(a) bare pass-through proxy …");
    const cpuBare0 = snapshot(pids, postmaster);
    const bare = await load(workers.map((w) => w.bare), SECONDS);
    const cpuBare1 = snapshot(pids, postmaster);
    const cpuBare = cpuPerRequest(cpuBare0, cpuBare1, bare.requests);

    const statements = () =>
      admin<{ query: string; calls: string }[]>`
        select s.query, s.calls from pg_stat_statements s
          join pg_roles r on r.oid = s.userid where r.rolname = 'tollgate_api'`;
    const callsOf = (rows: { query: string; calls: string }[]) =>
      new Map(rows.map((r) => [r.query, Number(r.calls)]));
    const before = callsOf(await statements());
    console.log("(b) tollgate, paid by job …");
    const cpuToll0 = snapshot(pids, postmaster);
    const tollgate = await load(workers.map((w) => w.tollgate), SECONDS);
    const cpuToll1 = snapshot(pids, postmaster);
    const cpuToll = cpuPerRequest(cpuToll0, cpuToll1, tollgate.requests);
    const after = callsOf(await statements());
    let roundTrips = 0;
    const perStatement: [string, number][] = [];
    for (const [query, calls] of after) {
      const delta = calls - (before.get(query) ?? 0);
      if (delta <= 0) continue;
      roundTrips += delta;
      perStatement.push([query.replace(/\s+/g, " ").slice(0, 60), delta]);
    }
    const [{ running }] = await admin<{ running: string }[]>`
      select count(*) as running from credits.ai_generations where status = 'running'`;
    await admin.end();

    // Unloaded: one client, to show the per-request overhead without queueing (context only).
    const quiet = Math.max(2, Math.round(SECONDS / 3));
    const bare1 = await load(workers.slice(0, 1).map((w) => w.bare), quiet);
    const tollgate1 = await load(workers.slice(0, 1).map((w) => w.tollgate), quiet);

    const rps = (r: RunResult) => r.requests / r.seconds;
    const row = (name: string, r: RunResult) =>
      `${name.padEnd(10)} ${rps(r).toFixed(0).padStart(8)} ${
        percentile(r.latencies, 50).toFixed(2).padStart(9)
      } ${percentile(r.latencies, 99).toFixed(2).padStart(9)} ${String(r.errors).padStart(7)}`;
    const addedP50 = percentile(tollgate.latencies, 50) - percentile(bare.latencies, 50);
    const addedP99 = percentile(tollgate.latencies, 99) - percentile(bare.latencies, 99);
    const perCall = roundTrips / Math.max(1, tollgate.requests + tollgate.errors);
    const ratio = rps(tollgate) / rps(bare);
    const verdict = (ok: boolean) => (ok ? "ok" : "MISSED");

    console.log("");
    console.log(`side        req/s   p50 (ms)  p99 (ms)  errors`);
    console.log(row("bare", bare));
    console.log(row("tollgate", tollgate));
    console.log("");
    console.log(
      `added latency   p50 ${addedP50.toFixed(2)} ms (target ≤ 3)  ${verdict(addedP50 <= 3)}`,
    );
    console.log(
      `                p99 ${addedP99.toFixed(2)} ms (target ≤ 10) ${verdict(addedP99 <= 10)}`,
    );
    console.log(
      `throughput      ${ratio.toFixed(2)} × bare (target ≥ 0.5)     ${verdict(ratio >= 0.5)}`,
    );
    console.log(
      `SQL round trips ${perCall.toFixed(2)} per paid call (target ≤ 2)  ${
        verdict(perCall <= 2.0001)
      }`,
    );
    for (const [query, calls] of perStatement.sort((a, b) => b[1] - a[1])) {
      console.log(`                ${String(calls).padStart(7)} × ${query}`);
    }
    console.log(`unsettled calls after the run: ${running}`);
    console.log("");
    console.log("CPU ms per request (2 cores = 2000 CPU ms per second for everything):");
    for (const name of Object.keys(cpuToll)) {
      console.log(
        `  ${name.padEnd(16)} bare ${cpuBare[name].toFixed(2).padStart(6)}   tollgate ${
          cpuToll[name].toFixed(2).padStart(6)
        }`,
      );
    }
    const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
    console.log(
      `  ${"total".padEnd(16)} bare ${total(cpuBare).toFixed(2).padStart(6)}   tollgate ${
        total(cpuToll).toFixed(2).padStart(6)
      }   (cores ${navigator.hardwareConcurrency})`,
    );
    console.log(
      `  machine busy     bare ${
        (100 * machineBusy(cpuBare0, cpuBare1)).toFixed(0).padStart(5)
      }%   tollgate ${
        (100 * machineBusy(cpuToll0, cpuToll1)).toFixed(0).padStart(5)
      }%  (all processes, kernel included)`,
    );
    console.log("");
    console.log(`one client, ${quiet} s each (no queueing; context only):`);
    console.log(row("bare", bare1));
    console.log(row("tollgate", tollgate1));
    console.log(
      `added latency   p50 ${
        (percentile(tollgate1.latencies, 50) - percentile(bare1.latencies, 50)).toFixed(2)
      } ms, p99 ${
        (percentile(tollgate1.latencies, 99) - percentile(bare1.latencies, 99)).toFixed(2)
      } ms`,
    );
    console.log(
      `JWT ${JWT_ALG}; load average now ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}`,
    );
  } finally {
    for (const child of children) {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
    }
    await removeCluster(cluster);
  }
}

if (import.meta.main) {
  const flag = Deno.args.indexOf("--bare-proxy");
  if (flag >= 0) serveBareProxy(Number(Deno.args[flag + 1]), Deno.args[flag + 2]);
  else await main();
}

/**
 * `deno task test` — every suite against a fresh stack:
 *   1. a throwaway Postgres cluster built from the migrations (supabase db push),
 *   2. pgTAP suites (supabase/tests/*.sql) with pg_prove,
 *   3. `deno test` (unit, end-to-end through the local gateway, concurrency) with the fake
 *      OpenAI-compatible upstream standing in for the paid provider.
 * Ends with one line `N passed, N failed` summing both; exits non-zero on any failure.
 * Extra arguments go to `deno test` (e.g. `deno task test --filter jobs`).
 */
import { LOCAL_DIR, PGTAP_DIR, ROOT, testPorts } from "../supabase/local/paths.ts";
import { join } from "../supabase/local/path.ts";
import {
  clusterAt,
  prepareDatabase,
  removeCluster,
  SUPERUSER,
} from "../supabase/local/postgres.ts";
import { stackEnv } from "../supabase/local/env.ts";
import { startServices } from "../supabase/local/services.ts";

interface Tally {
  passed: number;
  failed: number;
}

/** Runs a command, echoing its output while keeping a copy to count results from. */
async function runEchoed(
  cmd: string[],
  env: Record<string, string>,
): Promise<{ ok: boolean; out: string }> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  const pump = async (stream: ReadableStream<Uint8Array>, sink: typeof Deno.stdout) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      out += decoder.decode(chunk, { stream: true });
      await sink.write(chunk);
    }
  };
  const [status] = await Promise.all([
    child.status,
    pump(child.stdout, Deno.stdout),
    pump(child.stderr, Deno.stderr),
  ]);
  return { ok: status.success, out };
}

async function pgtapFiles(): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(PGTAP_DIR)) {
    if (entry.isFile && entry.name.endsWith(".sql")) files.push(join(PGTAP_DIR, entry.name));
  }
  return files.sort();
}

/** Runners colour their summaries; counting reads the plain text. */
function stripAnsi(text: string): string {
  // deno-lint-ignore no-control-regex -- ESC is exactly what an ANSI colour code starts with
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

/** pg_prove --verbose prints each TAP line; count them, and a crashed file as one failure. */
export function countTap(out: string, ok: boolean): Tally {
  out = stripAnsi(out);
  const passed = out.match(/^\s*ok \d+/gm)?.length ?? 0;
  const failed = out.match(/^\s*not ok \d+/gm)?.length ?? 0;
  return { passed, failed: !ok && failed === 0 ? 1 : failed };
}

/** Deno's summary: `ok | 12 passed (3 steps) | 0 failed (2s)`; no summary means it never ran. */
export function countDeno(out: string, ok: boolean): Tally {
  const plain = stripAnsi(out);
  const m = [...plain.matchAll(/(\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/g)].at(-1);
  if (!m) return { passed: 0, failed: 1 };
  const failed = Number(m[2]);
  return { passed: Number(m[1]), failed: !ok && failed === 0 ? 1 : failed };
}

async function main(): Promise<number> {
  const slot = Number(Deno.env.get("TOLLGATE_TEST_SLOT") ?? "0");
  if (!Number.isInteger(slot) || slot < 0 || slot > 50) {
    throw new Error("TOLLGATE_TEST_SLOT must be 0..50");
  }
  const ports = testPorts(slot);
  const cluster = clusterAt(join(LOCAL_DIR, `test-db-${slot}`), ports.db);
  console.log(
    `[test] building a fresh database on 127.0.0.1:${cluster.port} from the migrations …`,
  );
  await prepareDatabase(cluster, { fresh: true });

  const tally: Tally = { passed: 0, failed: 0 };
  let services: { stop(): Promise<void> } | undefined;
  try {
    // TOLLGATE_TEST_PGTAP=0 skips pgTAP while iterating on deno tests (CI never sets it).
    const files = Deno.env.get("TOLLGATE_TEST_PGTAP") === "0" ? [] : await pgtapFiles();
    if (files.length > 0) {
      console.log(`[test] pgTAP: ${files.length} files`);
      const pgEnv = { ...Deno.env.toObject(), PGPASSWORD: SUPERUSER.password };
      const prove = await runEchoed(
        [
          "pg_prove",
          "--verbose",
          "-h",
          "127.0.0.1",
          "-p",
          String(cluster.port),
          "-U",
          SUPERUSER.user,
          "-d",
          "postgres",
          ...files,
        ],
        pgEnv,
      );
      const t = countTap(prove.out, prove.ok);
      tally.passed += t.passed;
      tally.failed += t.failed;
    }

    // The functions run with a development config against the fresh database.
    // Request logs would drown the test report; LOG_LEVEL=info brings them back.
    const { env } = stackEnv(cluster, ports, { LOG_LEVEL: Deno.env.get("LOG_LEVEL") ?? "warn" });
    services = await startServices(ports, env, { fakeUpstream: true });
    const testEnv: Record<string, string> = {
      ...Deno.env.toObject(),
      ...env,
      TEST_BASE_URL: env.SUPABASE_URL,
      TEST_ADMIN_DB_URL: cluster.adminUrl,
      TEST_API_DB_URL: cluster.apiUrl,
      TEST_FAKE_UPSTREAM_URL: `http://127.0.0.1:${ports.fakeUpstream}`,
    };
    console.log("[test] deno test");
    // Paths given on the command line narrow the run; otherwise every test under tests/.
    const targets = Deno.args.some((a) => !a.startsWith("-")) ? [] : ["tests/"];
    const deno = await runEchoed(
      [Deno.execPath(), "test", "-A", ...Deno.args, ...targets],
      testEnv,
    );
    const t = countDeno(deno.out, deno.ok);
    tally.passed += t.passed;
    tally.failed += t.failed;
  } finally {
    await services?.stop();
    await removeCluster(cluster);
  }
  console.log(`${tally.passed} passed, ${tally.failed} failed`);
  return tally.failed === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());

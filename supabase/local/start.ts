/**
 * `deno task start` — the whole local stack without Docker (ARCHITECTURE §3):
 * Postgres (DATABASE_URL or a project-local cluster), the Supabase-compatible bootstrap,
 * migrations via `supabase db push`, and every function behind one local gateway.
 *
 *   --reset     rebuild the local database from the migrations first (`deno task db:reset`)
 *   --no-serve  prepare the database and exit
 */
import { DEV_PORTS, LOCAL_DIR } from "./paths.ts";
import { join } from "./path.ts";
import {
  bootstrap,
  type Cluster,
  clusterAt,
  isRunning,
  prepareDatabase,
  psql,
  pushMigrations,
  stopCluster,
} from "./postgres.ts";
import { LOCAL_DEFAULTS, stackEnv } from "./env.ts";
import { startServices } from "./services.ts";
import { configuredFunctions } from "./functions.ts";

const args = new Set(Deno.args);
const reset = args.has("--reset");
const serve = !args.has("--no-serve");

function externalCluster(url: string): Cluster {
  const admin = new URL(url);
  const api = new URL(url);
  api.username = "tollgate_api";
  api.password = "tollgate-local";
  return { dataDir: "", port: Number(admin.port || 5432), adminUrl: admin.href, apiUrl: api.href };
}

const external = Deno.env.get("DATABASE_URL");
const cluster = external
  ? externalCluster(external)
  : clusterAt(join(LOCAL_DIR, "db"), DEV_PORTS.db);
const wasRunning = !external && (await isRunning(cluster));

if (external && reset) {
  console.error("[stack] --reset only rebuilds the project-local cluster; DATABASE_URL is set.");
  Deno.exit(2);
}

console.log(
  external ? "[stack] using DATABASE_URL" : `[stack] local Postgres on 127.0.0.1:${cluster.port}`,
);
const { created, applied } = external
  ? await prepareExternal(cluster)
  : await prepareDatabase(cluster, { fresh: reset });
console.log(created ? "[stack] created a new cluster" : "[stack] reused the existing cluster");
console.log(
  applied ? `[stack] ${applied.split("\n").join("\n[stack] ")}` : "[stack] migrations up to date",
);

if (!serve) {
  if (!wasRunning && !external) await stopCluster(cluster);
  Deno.exit(0);
}

const { env, usesFakeUpstream } = stackEnv(cluster, DEV_PORTS);
const services = await startServices(DEV_PORTS, env, { fakeUpstream: usesFakeUpstream });
printBanner(await configuredFunctions(), usesFakeUpstream, env);

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  console.log("\n[stack] stopping …");
  await services.stop();
  // Stop only what this command started.
  if (!wasRunning && !external) await stopCluster(cluster);
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", shutdown);
Deno.addSignalListener("SIGTERM", shutdown);

/** An external database gets the bootstrap only if it is not a Supabase one already. */
async function prepareExternal(c: Cluster): Promise<{ created: boolean; applied: string }> {
  const hasAuth = await psql(c, {
    sql: "select count(*) from pg_namespace where nspname = 'auth'",
  });
  if (hasAuth.trim() === "0") await bootstrap(c);
  return { created: false, applied: await pushMigrations(c) };
}

function printBanner(functions: string[], fake: boolean, env: Record<string, string>): void {
  const base = `${env.SUPABASE_URL}/functions/v1`;
  const lines = [
    "",
    "Tollgate local stack is up.",
    "",
    `  Functions   ${base}/<name>   (${functions.join(", ")})`,
    `  JWKS        ${env.SUPABASE_URL}/auth/v1/.well-known/jwks.json`,
    `  Database    ${cluster.adminUrl.replace(/:[^:@/]*@/, ":***@")}`,
    "",
    "  Mint a user token:   deno task token [--sub UUID] [--anonymous] [--hs256]",
    "  Try it:",
    `    TOKEN=$(deno task -q token) && curl -s ${base}/health && \\`,
    `      curl -s -H "Authorization: Bearer $TOKEN" ${base}/credits/balance`,
    "",
  ];
  if (env.ADMIN_SECRET === LOCAL_DEFAULTS.ADMIN_SECRET) {
    lines.push(
      "  Admin API (local default secret):",
      `    curl -s -H "X-Admin-Secret: ${env.ADMIN_SECRET}" ${base}/admin/diag`,
      "",
    );
  }
  if (fake) {
    lines.push(
      "  !!! OPENAI_BASE_URL is not set: AI calls go to the LOCAL FAKE upstream",
      `  !!! (tests/fakes/openai_upstream.ts at ${env.OPENAI_BASE_URL}). No real model answers.`,
      "",
    );
  }
  lines.push("  Ctrl-C stops what this command started.", "");
  console.log(lines.join("\n"));
}

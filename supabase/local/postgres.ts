/**
 * A project-local Postgres 15 cluster built from Debian's binaries (ARCHITECTURE §3.1).
 *
 * Installs what is missing with apt-get when running as root; otherwise says what to
 * install. initdb refuses to run as root, so as root the cluster belongs to the
 * `postgres` system user and every server command runs through `runuser`.
 */
import { BOOTSTRAP_SQL, MIGRATIONS_DIR, ROOT, SUPABASE_CLI } from "./paths.ts";
import { join } from "./path.ts";

const PG_BIN = "/usr/lib/postgresql/15/bin";
const EXTENSION_DIR = "/usr/share/postgresql/15/extension";
const APT_PACKAGES = [
  "postgresql-15",
  "postgresql-15-cron",
  "postgresql-15-pgtap",
  "postgresql-15-plpgsql-check",
  "libtap-parser-sourcehandler-pgtap-perl",
];

/** Local superuser credentials — the same well-known ones `supabase start` uses. */
export const SUPERUSER = { user: "postgres", password: "postgres" };
/** Password given to the function role on local clusters only. */
export const API_ROLE = { user: "tollgate_api", password: "tollgate-local" };

export interface Cluster {
  dataDir: string;
  port: number;
  /** Superuser URL (migrations, tests' inspection). */
  adminUrl: string;
  /** URL of the least-privilege role the functions use. */
  apiUrl: string;
}

export function clusterAt(dataDir: string, port: number): Cluster {
  const host = `127.0.0.1:${port}/postgres`;
  return {
    dataDir,
    port,
    adminUrl: `postgres://${SUPERUSER.user}:${SUPERUSER.password}@${host}`,
    apiUrl: `postgres://${API_ROLE.user}:${API_ROLE.password}@${host}`,
  };
}

const isRoot = (): boolean => Deno.uid?.() === 0;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

interface RunOptions {
  asPostgres?: boolean;
  env?: Record<string, string>;
  quiet?: boolean;
  cwd?: string;
}

/** Runs a command; throws with its output when it fails. */
export async function run(cmd: string[], opts: RunOptions = {}): Promise<string> {
  const argv = opts.asPostgres && isRoot() ? ["runuser", "-u", "postgres", "--", ...cmd] : cmd;
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    env: opts.env,
    cwd: opts.cwd ?? ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) {
    throw new Error(`${cmd.join(" ")} failed (exit ${out.code}):\n${text}`);
  }
  return text;
}

/** Makes sure Postgres 15, pg_cron, pgTAP, plpgsql_check and pg_prove are installed. */
export async function ensurePostgresInstalled(): Promise<void> {
  const needed = [
    `${PG_BIN}/postgres`,
    `${EXTENSION_DIR}/pg_cron.control`,
    `${EXTENSION_DIR}/pgtap.control`,
    `${EXTENSION_DIR}/plpgsql_check.control`,
    "/usr/bin/pg_prove",
  ];
  const missing = [];
  for (const path of needed) if (!(await exists(path))) missing.push(path);
  if (missing.length === 0) return;

  if (!isRoot()) {
    throw new Error(
      `Postgres tooling is missing (${missing.join(", ")}).\n` +
        `Install it with: sudo apt-get install -y ${APT_PACKAGES.join(" ")}`,
    );
  }
  console.log(`[stack] installing ${APT_PACKAGES.join(", ")} with apt-get …`);
  // Debian would create and start a default cluster on 5432; we manage our own.
  await Deno.mkdir("/etc/postgresql-common", { recursive: true });
  await Deno.writeTextFile(
    "/etc/postgresql-common/createcluster.conf",
    "create_main_cluster = false\n",
  );
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  await run(["apt-get", "update", "-qq"], { env });
  await run(["apt-get", "install", "-y", "-qq", ...APT_PACKAGES], { env });
}

async function ownByPostgres(path: string): Promise<void> {
  if (isRoot()) await run(["chown", "-R", "postgres:postgres", path]);
}

/** Creates the cluster when its folder is empty; never touches an existing one. */
export async function initCluster(cluster: Cluster): Promise<boolean> {
  if (await exists(join(cluster.dataDir, "PG_VERSION"))) return false;
  await Deno.mkdir(cluster.dataDir, { recursive: true });
  const pwfile = join(cluster.dataDir, "..", `pwfile-${cluster.port}`);
  await Deno.writeTextFile(pwfile, SUPERUSER.password);
  await ownByPostgres(cluster.dataDir);
  await ownByPostgres(pwfile);
  try {
    await run([
      `${PG_BIN}/initdb`,
      "-D",
      cluster.dataDir,
      "-U",
      SUPERUSER.user,
      `--pwfile=${pwfile}`,
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "--encoding=UTF8",
      "--locale=C.UTF-8",
    ], { asPostgres: true });
  } finally {
    await Deno.remove(pwfile);
  }
  // pg_cron must be preloaded and lives in the `postgres` database, as on Supabase.
  await Deno.writeTextFile(
    join(cluster.dataDir, "postgresql.auto.conf"),
    [
      "listen_addresses = '127.0.0.1'",
      `port = ${cluster.port}`,
      "shared_preload_libraries = 'pg_cron'",
      "cron.database_name = 'postgres'",
      "max_connections = 200",
      "unix_socket_directories = ''",
      "",
    ].join("\n"),
    { append: true },
  );
  return true;
}

export async function isRunning(cluster: Cluster): Promise<boolean> {
  try {
    await run([`${PG_BIN}/pg_ctl`, "-D", cluster.dataDir, "status"], { asPostgres: true });
    return true;
  } catch {
    return false;
  }
}

export async function startCluster(cluster: Cluster): Promise<void> {
  if (await isRunning(cluster)) return;
  const logFile = join(cluster.dataDir, "server.log");
  await run([`${PG_BIN}/pg_ctl`, "-D", cluster.dataDir, "-l", logFile, "-w", "-t", "60", "start"], {
    asPostgres: true,
  });
}

export async function stopCluster(cluster: Cluster): Promise<void> {
  if (!(await isRunning(cluster))) return;
  await run([`${PG_BIN}/pg_ctl`, "-D", cluster.dataDir, "-m", "fast", "-w", "stop"], {
    asPostgres: true,
  });
}

export async function removeCluster(cluster: Cluster): Promise<void> {
  await stopCluster(cluster);
  await Deno.remove(cluster.dataDir, { recursive: true }).catch(() => {});
}

/** Runs SQL (a file or a string) as the superuser, stopping at the first error. */
export async function psql(
  cluster: Cluster,
  input: { file: string } | { sql: string },
): Promise<string> {
  const args = ["psql", cluster.adminUrl, "-v", "ON_ERROR_STOP=1", "-q", "-X", "-At"];
  args.push(...("file" in input ? ["-f", input.file] : ["-c", input.sql]));
  return await run(args);
}

/** The Supabase-compatible bootstrap: roles, auth schema (local clusters only). */
export async function bootstrap(cluster: Cluster): Promise<void> {
  await psql(cluster, { file: BOOTSTRAP_SQL });
}

/**
 * Applies new migrations with the supabase CLI — the same files and tool as production.
 * Returns the CLI's report of what it applied.
 */
export async function pushMigrations(cluster: Cluster): Promise<string> {
  const out = await run([
    "npx",
    "-y",
    SUPABASE_CLI,
    "db",
    "push",
    "--db-url",
    cluster.adminUrl,
    "--include-all",
    "--yes",
  ], { env: { PGSSLMODE: "disable", NO_COLOR: "1" } });
  // The function role is created by a migration; its password is local-only state.
  await psql(cluster, {
    sql: `alter role ${API_ROLE.user} with login password '${API_ROLE.password}'`,
  });
  return out.split("\n").filter((line) => line.startsWith("Applying migration")).join("\n");
}

/** Lists migration files, to report how many are applied. */
export async function migrationFiles(): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(MIGRATIONS_DIR)) {
    if (entry.isFile && entry.name.endsWith(".sql")) files.push(entry.name);
  }
  return files.sort();
}

/** Builds (or reuses) a cluster, bootstraps it and applies migrations. */
export async function prepareDatabase(
  cluster: Cluster,
  opts: { fresh: boolean },
): Promise<{ created: boolean; applied: string }> {
  await ensurePostgresInstalled();
  if (opts.fresh) await removeCluster(cluster);
  const created = await initCluster(cluster);
  await startCluster(cluster);
  await bootstrap(cluster);
  const applied = await pushMigrations(cluster);
  return { created, applied };
}

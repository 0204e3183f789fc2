/**
 * `deno task backup [--db-url URL] [--out FILE]` — a pg_dump of Tollgate's schemas to a file.
 *
 * What is in it: schemas credits (money), api (functions), ops (logs, alerts, reconcile state,
 * snapshots), audit (views) and supabase_migrations (which migrations are applied) when present
 * — structure, data, comments and grants, in pg_dump's custom format (compressed, restorable
 * selectively). What is not: Supabase's own schemas (auth, storage, ...), extensions and the
 * pg_cron schedule (pg_cron lives in database `postgres` only; re-apply
 * 20261124000590_cron_schedules.sql after a restore). Restore with `deno task restore FILE`.
 *
 * The database: --db-url, else DATABASE_URL, else the local stack's cluster (127.0.0.1:54322).
 * Use a superuser / the `postgres` role (it must read every table, RLS included). The default
 * file is supabase/.local/backups/tollgate-<UTC timestamp>.dump (gitignored).
 */
import { DEV_PORTS, LOCAL_DIR } from "./paths.ts";
import { join } from "./path.ts";
import { SUPERUSER } from "./postgres.ts";

/** Tollgate's schemas; supabase_migrations is added when it exists. */
export const TOLLGATE_SCHEMAS = ["credits", "api", "ops", "audit"];

/** A Postgres client tool: the server's major version from Debian's layout, else PATH. */
export function pgTool(name: string): string {
  for (
    const dir of [
      "/usr/lib/postgresql/15/bin",
      "/usr/lib/postgresql/16/bin",
      "/usr/lib/postgresql/17/bin",
    ]
  ) {
    try {
      Deno.statSync(`${dir}/${name}`);
      return `${dir}/${name}`;
    } catch {
      // not here
    }
  }
  return name;
}

/** Runs a tool; returns stdout, throws with stderr (URL passwords masked) on failure. */
export async function runTool(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", stdin: "null" })
    .output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  if (!out.success) {
    const text = decode(out.stderr).replace(/(postgres(?:ql)?:\/\/[^:/@\s]+):[^@\s]+@/g, "$1:***@");
    throw new Error(`${cmd.split("/").at(-1)} failed (exit ${out.code}): ${text.trim()}`);
  }
  return decode(out.stdout);
}

/** The database to use: --db-url, DATABASE_URL, or the local stack. */
export function databaseUrl(args: string[]): string {
  const flag = args.indexOf("--db-url");
  if (flag >= 0 && args[flag + 1]) return args[flag + 1];
  return Deno.env.get("DATABASE_URL") ??
    `postgres://${SUPERUSER.user}:${SUPERUSER.password}@127.0.0.1:${DEV_PORTS.db}/postgres`;
}

/** psql -At -c, stopping at the first error. */
export async function query(url: string, sql: string): Promise<string> {
  return (await runTool(pgTool("psql"), [
    "-X",
    "-At",
    "-v",
    "ON_ERROR_STOP=1",
    "-d",
    url,
    "-c",
    sql,
  ])).trim();
}

export interface BackupResult {
  file: string;
  schemas: string[];
  bytes: number;
  ledgerRows: number;
}

export async function backup(url: string, file?: string): Promise<BackupResult> {
  const existing = (await query(
    url,
    `select string_agg(nspname, ',' order by nspname) from pg_namespace
      where nspname in ('credits', 'api', 'ops', 'audit', 'supabase_migrations')`,
  )).split(",").filter(Boolean);
  const missing = TOLLGATE_SCHEMAS.filter((s) => !existing.includes(s));
  if (missing.length > 0) {
    throw new Error(`not a Tollgate database: schema(s) ${missing.join(", ")} missing`);
  }
  const schemas = [
    ...TOLLGATE_SCHEMAS,
    ...(existing.includes("supabase_migrations") ? ["supabase_migrations"] : []),
  ];
  const ledgerRows = Number(await query(url, "select count(*) from credits.ledger"));

  const target = file ??
    join(LOCAL_DIR, "backups", `tollgate-${new Date().toISOString().replace(/[:.]/g, "-")}.dump`);
  const dir = target.includes("/") ? target.slice(0, target.lastIndexOf("/")) : ".";
  await Deno.mkdir(dir, { recursive: true });
  // Custom format: compressed, and pg_restore can leave out what a target cannot take.
  await runTool(pgTool("pg_dump"), [
    "--format=custom",
    "--compress=6",
    ...schemas.map((s) => `--schema=${s}`),
    `--file=${target}`,
    `--dbname=${url}`,
  ]);
  const bytes = (await Deno.stat(target)).size;
  return { file: target, schemas, bytes, ledgerRows };
}

if (import.meta.main) {
  const outFlag = Deno.args.indexOf("--out");
  const out = outFlag >= 0 ? Deno.args[outFlag + 1] : undefined;
  try {
    const result = await backup(databaseUrl(Deno.args), out);
    console.log(
      `[backup] ${result.file}: schemas ${
        result.schemas.join(", ")
      }; ${result.ledgerRows} ledger rows; ` +
        `${(result.bytes / 1024).toFixed(1)} KiB`,
    );
    console.log(
      `[backup] restore into an empty database with: deno task restore ${result.file} --db-url <url>`,
    );
  } catch (error) {
    console.error(`[backup] ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}

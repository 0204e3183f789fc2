/**
 * postgres.js client for TOLLGATE_DB_URL (login role tollgate_api, which may only execute api.*).
 * Tuned for Supabase's Supavisor transaction pooler: no prepared statements, a small pool per
 * isolate (many isolates share the pooler), short idle and connect timeouts.
 */
import postgres from "postgres";
import { type Config, getConfig } from "../config.ts";

export type Sql = postgres.Sql<Record<string, never>>;

export interface SqlOptions {
  /** Pool size per isolate (default 5). */
  max?: number;
  /** Seconds before an idle connection is closed (default 20). */
  idleTimeoutSeconds?: number;
  /** Seconds to wait for a connection (default 5). */
  connectTimeoutSeconds?: number;
}

/** A new client; callers own it and must `end()` it. Prefer getSql() in functions. */
export function createSql(url: string, options: SqlOptions = {}): Sql {
  return postgres(url, {
    prepare: false, // Supavisor transaction mode cannot keep prepared statements
    max: options.max ?? 5,
    idle_timeout: options.idleTimeoutSeconds ?? 20,
    connect_timeout: options.connectTimeoutSeconds ?? 5,
    max_lifetime: 60 * 30,
    onnotice: () => {}, // notices are not errors; keep function logs clean
    connection: { application_name: "tollgate-functions" },
  }) as Sql;
}

const clients = new Map<string, Sql>();

/** The isolate's shared client for the configured TOLLGATE_DB_URL (created on first use). */
export function getSql(config: Config = getConfig()): Sql {
  const url = config.TOLLGATE_DB_URL;
  let sql = clients.get(url);
  if (!sql) {
    sql = createSql(url);
    clients.set(url, sql);
  }
  return sql;
}

/** Closes every shared client (tests, graceful shutdown). */
export async function endAllSql(): Promise<void> {
  const all = [...clients.values()];
  clients.clear();
  await Promise.all(all.map((sql) => sql.end({ timeout: 1 })));
}

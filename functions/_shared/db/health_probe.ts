/**
 * One timed `api.health()` call, shared by GET /health?deep (readiness) and GET /admin/diag:
 * the database's clock and migration version, and how long the round trip took.
 */
import type { Sql } from "./client.ts";

interface HealthRow {
  health: { db_time: string; migration_version: string | null };
}

export interface DatabaseHealth {
  ok: true;
  /** Milliseconds, one decimal. */
  roundTripMs: number;
  time: string;
  migrationVersion: string | null;
}

/** The database did not answer `api.health()` within the probe's timeout. */
export class HealthProbeTimeout extends Error {
  constructor() {
    super("timeout");
    this.name = "HealthProbeTimeout";
  }
}

/** Milliseconds since `started` (a `performance.now()`), rounded to one decimal. */
export function elapsedMs(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}

/**
 * Calls `api.health()`; rejects with HealthProbeTimeout after `timeoutMs`, or with the database
 * error. The caller decides what a failure means for its endpoint.
 */
export async function probeDatabase(sql: Sql, timeoutMs: number): Promise<DatabaseHealth> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HealthProbeTimeout()), timeoutMs);
  });
  try {
    const query = sql<HealthRow[]>`select api.health() as health`;
    // A late failure after the timeout must not become an unhandled rejection.
    query.catch(() => {});
    const [row] = await Promise.race([query, timeout]);
    return {
      ok: true,
      roundTripMs: elapsedMs(started),
      time: row.health.db_time,
      migrationVersion: row.health.migration_version,
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Kill switches (issue 6). The source of truth is ops.feature_flags; hot paths check it inside
 * their own api.* function (ops.require_flag, no extra round trip, never stale). Routes without
 * such a call use `FlagCache`, which is at most `MAX_FLAG_CACHE_MS` (5 s) stale.
 */
import type { Sql } from "postgres";
import { parseJsonObject } from "../db/detail_json.ts";

export const FLAG_NAMES = [
  "ai.chat",
  "ai.speech",
  "ai.images",
  "jobs.start",
  "credits.redeem",
  "purchases",
] as const;

export type FlagName = (typeof FLAG_NAMES)[number];

/** One row of `api.flags_list()`. */
export interface FlagState {
  readonly name: string;
  readonly enabled: boolean;
  readonly reason: string | null;
  readonly retryAfterSeconds: number;
  readonly updatedAt: Date;
  readonly updatedBy: string | null;
}

/** The detail JSON of `MAINTENANCE` raised by ops.require_flag. */
export interface MaintenanceDetail {
  readonly flag: string;
  readonly retry_after: number;
}

/** Parses ops.require_flag's detail; null when it is not that shape. */
export function parseMaintenanceDetail(detail: string | undefined): MaintenanceDetail | null {
  const v = parseJsonObject(detail);
  if (!v) return null;
  if (typeof v.flag !== "string") return null;
  if (!Number.isInteger(v.retry_after) || (v.retry_after as number) < 1) return null;
  return { flag: v.flag, retry_after: v.retry_after as number };
}

/** One row of `api.flags_list()` as postgres.js returns it. */
export interface FlagRow {
  name: string;
  enabled: boolean;
  reason: string | null;
  retry_after_seconds: number;
  updated_at: Date;
  updated_by: string | null;
}

/** A `api.flags_list()` row in camelCase (also the admin API's JSON of a flag). */
export function flagStateFromRow(r: FlagRow): FlagState {
  return {
    name: r.name,
    enabled: r.enabled,
    reason: r.reason,
    retryAfterSeconds: r.retry_after_seconds,
    updatedAt: r.updated_at,
    updatedBy: r.updated_by,
  };
}

/** Loads every flag through `api.flags_list()` (postgres.js connected as tollgate_api). */
export function createSqlFlagLoader(sql: Sql): () => Promise<FlagState[]> {
  return async () => {
    const rows = await sql<FlagRow[]>`
      select name, enabled, reason, retry_after_seconds, updated_at, updated_by
      from api.flags_list()`;
    return rows.map(flagStateFromRow);
  };
}

/** Upper bound on staleness promised by issue 6: a toggle takes effect within 5 s. */
export const MAX_FLAG_CACHE_MS = 5_000;

export interface FlagCacheOptions {
  /** Fetches all flags, e.g. `createSqlFlagLoader(sql)`. */
  load: () => Promise<FlagState[]>;
  /** How long a snapshot is used; capped at MAX_FLAG_CACHE_MS. Default MAX_FLAG_CACHE_MS. */
  ttlMs?: number;
  /** Clock in ms, injectable for tests. Default `Date.now`. */
  now?: () => number;
}

/** A per-isolate snapshot of all flags, reloaded once it is older than its TTL. */
export class FlagCache {
  readonly #load: () => Promise<FlagState[]>;
  readonly #ttlMs: number;
  readonly #now: () => number;
  #snapshot: { at: number; flags: Map<string, FlagState> } | undefined;
  #inflight: Promise<Map<string, FlagState>> | undefined;

  constructor(options: FlagCacheOptions) {
    const ttl = options.ttlMs ?? MAX_FLAG_CACHE_MS;
    if (!(ttl >= 0 && ttl <= MAX_FLAG_CACHE_MS)) {
      throw new Error(`flag cache TTL must be 0..${MAX_FLAG_CACHE_MS} ms`);
    }
    this.#load = options.load;
    this.#ttlMs = ttl;
    this.#now = options.now ?? Date.now;
  }

  /** The flag's state. An unknown name throws: a typo must not read as "enabled". */
  async get(name: string): Promise<FlagState> {
    const flags = await this.#flags();
    const flag = flags.get(name);
    if (!flag) throw new Error(`unknown feature flag "${name}"`);
    return flag;
  }

  async isEnabled(name: string): Promise<boolean> {
    return (await this.get(name)).enabled;
  }

  /** Forgets the snapshot (e.g. right after this isolate changed a flag). */
  invalidate(): void {
    this.#snapshot = undefined;
  }

  #flags(): Promise<Map<string, FlagState>> {
    const snapshot = this.#snapshot;
    if (snapshot && this.#now() - snapshot.at < this.#ttlMs) return Promise.resolve(snapshot.flags);
    // One load at a time: concurrent requests share it instead of stampeding the database.
    this.#inflight ??= this.#reload().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #reload(): Promise<Map<string, FlagState>> {
    const startedAt = this.#now();
    const flags = new Map((await this.#load()).map((f) => [f.name, f]));
    // Age counts from before the query, so a slow load never stretches staleness past the TTL.
    this.#snapshot = { at: startedAt, flags };
    return flags;
  }
}

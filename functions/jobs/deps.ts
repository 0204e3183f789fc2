/** What the jobs routes share: configuration, the database and the jobs.start rate-limit policy. */
import type { Config } from "../_shared/config.ts";
import type { Sql } from "../_shared/db/client.ts";
import { DEFAULT_POLICIES, type RateLimitPolicy } from "../_shared/ratelimit/policies.ts";

export interface JobsDeps {
  config: Config;
  /** The database client (resolved per request so tests can inject one). */
  sql: () => Sql;
  /** jobs.start policy (RATE_LIMIT_JOBS_START overrides 30/60), or null when limits are off. */
  startPolicy: RateLimitPolicy | null;
}

/** The jobs.start policy for a configuration: default 30 per 60 s per account. */
export function jobsStartPolicy(config: Config): RateLimitPolicy | null {
  if (!config.ENABLE_RATE_LIMITING) return null;
  const base = DEFAULT_POLICIES["jobs.start"];
  const override = config.RATE_LIMITS["jobs_start"];
  if (!override) return base;
  return Object.freeze({ ...base, quota: override.limit, windowSeconds: override.windowSeconds });
}

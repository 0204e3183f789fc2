/**
 * Hot-path guard errors raised inside composed api.* functions (ops.require_flag,
 * ops.rate_limit_require). They carry a JSON object in the error's `detail`, which mapDbError
 * hands to guardError so every route answers them the same way:
 *
 *   MAINTENANCE  → 503, Retry-After, details { flag, retryAfterSeconds }
 *   RATE_LIMITED → 429, Retry-After + RateLimit-Policy + RateLimit, details { policy, retryAfterSeconds }
 * Anything else → null.
 */
import { parseMaintenanceDetail } from "../flags/flags.ts";
import { ApiError } from "../http/errors.ts";
import { parseRateLimitedDetail, type RateLimitDecision } from "../ratelimit/decision.ts";
import { rateLimitHeaders } from "../ratelimit/headers.ts";
import type { RateLimitPolicy, RateLimitPolicyName } from "../ratelimit/policies.ts";

interface PgErrorShape {
  name?: string;
  code?: string;
  message?: string;
  detail?: string;
}

function pgError(err: unknown): PgErrorShape | null {
  if (!(err instanceof Error)) return null;
  const e = err as Error & PgErrorShape;
  return e.name === "PostgresError" && e.code === "P0001" ? e : null;
}

export function guardError(err: unknown): ApiError | null {
  const e = pgError(err);
  if (!e) return null;
  if (e.message === "MAINTENANCE") {
    const detail = parseMaintenanceDetail(e.detail);
    const retryAfter = detail?.retry_after ?? 60;
    return new ApiError(
      "MAINTENANCE",
      "This feature is switched off for maintenance; retry later",
      { flag: detail?.flag, retryAfterSeconds: retryAfter },
      { headers: { "Retry-After": String(retryAfter) } },
    );
  }
  if (e.message === "RATE_LIMITED") {
    const detail = parseRateLimitedDetail(e.detail);
    if (!detail) {
      return new ApiError("RATE_LIMITED", "Too many requests", undefined, {
        headers: { "Retry-After": "1" },
      });
    }
    const policy = {
      name: detail.policy as RateLimitPolicyName,
      quota: detail.quota,
      windowSeconds: detail.window,
    } as RateLimitPolicy;
    const decision: RateLimitDecision = {
      policy,
      allowed: false,
      remaining: detail.remaining,
      resetSeconds: detail.reset,
      retryAfterSeconds: detail.retry_after,
    };
    return new ApiError(
      "RATE_LIMITED",
      "Too many requests; retry later",
      { policy: detail.policy, retryAfterSeconds: Math.max(1, detail.retry_after) },
      { headers: rateLimitHeaders([decision]) },
    );
  }
  return null;
}

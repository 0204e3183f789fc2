import { parseJsonObject } from "../db/detail_json.ts";
import type { RateLimitPolicy } from "./policies.ts";

/** The outcome of one take, as returned by api.rate_limit_take / ops.rate_limit_take. */
export interface RateLimitDecision {
  readonly policy: RateLimitPolicy;
  readonly allowed: boolean;
  /** How many more cost-1 requests would be admitted now (RateLimit `r`). */
  readonly remaining: number;
  /** Seconds until the bucket is full again (RateLimit `t`). */
  readonly resetSeconds: number;
  /** 0 if another request fits now; else seconds (>= 1, rounded up) until one does. */
  readonly retryAfterSeconds: number;
}

/** A row of `api.rate_limit_take(...)` as postgres.js returns it. */
export interface RateLimitTakeRow {
  allowed: boolean;
  remaining: number;
  reset_seconds: number;
  retry_after_seconds: number;
}

export function decisionFromRow(policy: RateLimitPolicy, row: RateLimitTakeRow): RateLimitDecision {
  return {
    policy,
    allowed: row.allowed,
    remaining: row.remaining,
    resetSeconds: row.reset_seconds,
    retryAfterSeconds: row.retry_after_seconds,
  };
}

/** The detail JSON of `RATE_LIMITED` raised by ops.rate_limit_require. */
export interface RateLimitedDetail {
  readonly policy: string;
  readonly quota: number;
  readonly window: number;
  readonly remaining: number;
  readonly reset: number;
  readonly retry_after: number;
}

/** Parses ops.rate_limit_require's detail; null when it is not that shape. */
export function parseRateLimitedDetail(detail: string | undefined): RateLimitedDetail | null {
  const v = parseJsonObject(detail);
  if (!v) return null;
  const numbers = ["quota", "window", "remaining", "reset", "retry_after"] as const;
  if (typeof v.policy !== "string") return null;
  for (const field of numbers) {
    if (!Number.isInteger(v[field]) || (v[field] as number) < 0) return null;
  }
  return v as unknown as RateLimitedDetail;
}

/** Of several decisions for one request, the denied one with the longest wait (or undefined). */
export function mostRestrictiveDenial(
  decisions: readonly RateLimitDecision[],
): RateLimitDecision | undefined {
  let worst: RateLimitDecision | undefined;
  for (const decision of decisions) {
    if (decision.allowed) continue;
    if (!worst || decision.retryAfterSeconds > worst.retryAfterSeconds) worst = decision;
  }
  return worst;
}

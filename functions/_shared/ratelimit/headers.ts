/**
 * IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers): structured-field lists
 * whose items are the policy name as an sf-string with parameters.
 *   RateLimit-Policy: "chat";q=60;w=60      quota q per window w seconds
 *   RateLimit: "chat";r=12;t=41             r remaining now, t seconds until the quota is full
 * A 429 also carries Retry-After (delta-seconds) of the most restrictive denied policy.
 */
import type { Context } from "hono";
import { mostRestrictiveDenial, type RateLimitDecision } from "./decision.ts";
import type { RateLimitPolicy } from "./policies.ts";

export const RATE_LIMIT_POLICY_HEADER = "RateLimit-Policy";
export const RATE_LIMIT_HEADER = "RateLimit";
export const RETRY_AFTER_HEADER = "Retry-After";

/** An RFC 8941 sf-string: printable ASCII only, `"` and `\` escaped. */
export function sfString(value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value)) {
    throw new Error("structured-field strings allow printable ASCII only");
  }
  return `"${value.replace(/[\\"]/g, (ch) => `\\${ch}`)}"`;
}

/** `"chat";q=60;w=60` */
export function formatRateLimitPolicy(policy: RateLimitPolicy): string {
  return `${sfString(policy.name)};q=${nonNegative(policy.quota)};w=${
    nonNegative(policy.windowSeconds)
  }`;
}

/** `"chat";r=12;t=41` */
export function formatRateLimit(decision: RateLimitDecision): string {
  return `${sfString(decision.policy.name)};r=${nonNegative(decision.remaining)};t=${
    nonNegative(decision.resetSeconds)
  }`;
}

/** The header values for one request's decisions (several when, e.g., account and device apply). */
export function rateLimitHeaders(decisions: readonly RateLimitDecision[]): Record<string, string> {
  if (decisions.length === 0) return {};
  const headers: Record<string, string> = {
    [RATE_LIMIT_POLICY_HEADER]: decisions.map((d) => formatRateLimitPolicy(d.policy)).join(", "),
    [RATE_LIMIT_HEADER]: decisions.map(formatRateLimit).join(", "),
  };
  const denied = mostRestrictiveDenial(decisions);
  if (denied) headers[RETRY_AFTER_HEADER] = String(Math.max(1, denied.retryAfterSeconds));
  return headers;
}

/**
 * Sets RateLimit-Policy, RateLimit and (when any decision denied) Retry-After on the Hono
 * context. Headers set with `c.header` survive into the response the error handler builds with
 * `c.json(...)`, so a handler may set them and then throw RATE_LIMITED.
 */
export function setRateLimitHeaders(
  c: Context,
  decisions: RateLimitDecision | readonly RateLimitDecision[],
): void {
  const list = Array.isArray(decisions) ? decisions : [decisions as RateLimitDecision];
  for (const [name, value] of Object.entries(rateLimitHeaders(list))) c.header(name, value);
}

function nonNegative(n: number): number {
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`rate-limit field must be a non-negative integer, got ${n}`);
  }
  return n;
}

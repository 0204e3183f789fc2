import { ApiError } from "../http/errors.ts";
import { mostRestrictiveDenial, type RateLimitDecision } from "./decision.ts";
import { rateLimitHeaders } from "./headers.ts";

/**
 * The 429 for a denied request: code RATE_LIMITED, `details { policy, retryAfterSeconds }`, and
 * the RateLimit-Policy, RateLimit and Retry-After headers of all `decisions` carried on the
 * error itself (so they survive whichever handler renders it).
 */
export function rateLimitedError(
  decisions: RateLimitDecision | readonly RateLimitDecision[],
): ApiError {
  const list = Array.isArray(decisions) ? decisions : [decisions as RateLimitDecision];
  const denied = mostRestrictiveDenial(list) ?? list[0];
  const retryAfterSeconds = Math.max(1, denied?.retryAfterSeconds ?? 1);
  return new ApiError(
    "RATE_LIMITED",
    "Too many requests; retry after the number of seconds in Retry-After",
    { policy: denied?.policy.name, retryAfterSeconds },
    { headers: rateLimitHeaders(list) },
  );
}

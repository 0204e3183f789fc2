import type { Context, MiddlewareHandler } from "hono";
import type { RateLimitDecision } from "./decision.ts";
import { setRateLimitHeaders } from "./headers.ts";
import type { RateLimitPolicy } from "./policies.ts";
import type { RateLimitTaker } from "./take.ts";

export interface RateLimitOptions {
  /** The policy to apply (from `resolvePolicies(env).policies`). */
  policy: RateLimitPolicy;
  /** The bucket key for this request, e.g. `clientIpKey(c.req.raw.headers, secret)`. */
  key: (c: Context) => string | Promise<string>;
  /** Performs the take, e.g. `createSqlRateLimitTaker(sql)`. */
  take: RateLimitTaker;
  /** false skips the limit entirely (ENABLE_RATE_LIMITING=false). Default true. */
  enabled?: boolean;
  /**
   * Called when the request is denied, after the RateLimit and Retry-After headers are set on
   * `c`. Typically throws `new ApiError("RATE_LIMITED", ...)`; the error handler's `c.json`
   * keeps the headers. May instead return the 429 response itself.
   */
  onLimited: (c: Context, decision: RateLimitDecision) => Response | Promise<Response>;
}

/**
 * Hono middleware: one rate-limit take per request before the handler runs, RateLimit headers on
 * every response it lets through, and `onLimited` on denial.
 */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler {
  return async (c, next) => {
    if (options.enabled === false) return await next();
    const decision = await options.take(options.policy, await options.key(c));
    setRateLimitHeaders(c, decision);
    if (!decision.allowed) return await options.onLimited(c, decision);
    await next();
  };
}

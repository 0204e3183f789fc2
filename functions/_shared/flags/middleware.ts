import type { Context, MiddlewareHandler } from "hono";
import type { FlagCache, FlagState } from "./flags.ts";

export interface RequireFlagOptions {
  /** The route family's flag, e.g. "purchases". */
  name: string;
  cache: FlagCache;
  /**
   * Called when the flag is off, after `Retry-After` is set on `c`. Typically throws
   * `new ApiError("MAINTENANCE", ...)` (503); may instead return the response itself.
   */
  onMaintenance: (c: Context, flag: FlagState) => Response | Promise<Response>;
}

/**
 * Hono middleware for routes whose SQL does not already call ops.require_flag: refuses the
 * request with Retry-After while the flag is off (at most 5 s after it was switched off).
 */
export function requireFlag(options: RequireFlagOptions): MiddlewareHandler {
  return async (c, next) => {
    const flag = await options.cache.get(options.name);
    if (!flag.enabled) {
      c.header("Retry-After", String(flag.retryAfterSeconds));
      return await options.onMaintenance(c, flag);
    }
    await next();
  };
}

/**
 * One JSON line per request: ts, level, requestId, function, method, route (the matched
 * pattern, never raw ids), status, durationMs, account (when auth() identified the caller)
 * and errorCode (when the error handler answered). Also binds `c.var.log` for handlers.
 */
import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { AppEnv } from "../../http/types.ts";
import type { Logger } from "../logger.ts";

export interface RequestLogOptions {
  /** Base logger (LOG_LEVEL applied by its creator). */
  logger: Logger;
  /** Function name on every line. */
  functionName: string;
}

export function requestLog(options: RequestLogOptions): MiddlewareHandler<AppEnv> {
  return async function requestLogMiddleware(c, next) {
    const started = performance.now();
    const requestId = c.get("requestId");
    const log = options.logger.child({ requestId, function: options.functionName });
    c.set("log", log);
    try {
      await next();
    } finally {
      const status = c.res?.status ?? 500;
      const fields = {
        method: c.req.method,
        route: handlerRoute(c),
        status,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        account: c.get("account"),
        errorCode: c.get("errorCode"),
      };
      if (status >= 500) log.error("request", fields);
      else log.info("request", fields);
    }
  };
}

/** The pattern of the route that answered ("/jobs/:id"), or "(unmatched)". */
// deno-lint-ignore no-explicit-any
function handlerRoute(c: any): string {
  const routes = matchedRoutes(c).filter((r) => r.method !== "ALL");
  return routes.at(-1)?.path ?? "(unmatched)";
}

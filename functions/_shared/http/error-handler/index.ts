/**
 * The error envelope for everything that goes wrong in a function:
 * - `onError`: ApiError → its code; database errors → mapDbError (the one SQL→HTTP table);
 *   framework HTTPExceptions → the code for their status; anything else → 500 INTERNAL with a
 *   generic message. Every 5xx is logged with its (redacted) stack and cause; the client never
 *   sees internals. Unexpected errors (500 INTERNAL) also go to ops.error_log, written after
 *   the response (../../errorlog).
 * - `notFound`: a known path with another method → 405 METHOD_NOT_ALLOWED with `Allow`
 *   (OPTIONS on a known path → 204 with `Allow`); otherwise 404 NOT_FOUND.
 */
import type { Context, ErrorHandler, Hono, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { PatternRouter } from "hono/router/pattern-router";
import { mapDbError } from "../../db/errors.ts";
import { recordServerError } from "../../errorlog/index.ts";
import { createLogger } from "../../log/logger.ts";
import { ApiError, apiErrorResponse, codeForStatus } from "../errors.ts";
import type { AppEnv } from "../types.ts";

const fallbackLog = createLogger();

/** Converts any thrown value into an ApiError (INTERNAL keeps the original as `cause`). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const db = mapDbError(err);
  if (db) return db;
  if (err instanceof HTTPException && err.status < 500) {
    return new ApiError(codeForStatus(err.status), err.message || "Request failed");
  }
  return new ApiError("INTERNAL", "Internal error", undefined, { cause: err });
}

function requestIdOf(c: Context<AppEnv>): string {
  return c.get("requestId") ?? crypto.randomUUID();
}

export function errorHandler(): ErrorHandler<AppEnv> {
  return (err, c) => {
    const apiError = toApiError(err);
    const requestId = requestIdOf(c);
    c.set("errorCode", apiError.code);
    if (apiError.status >= 500) {
      const log = c.get("log") ?? fallbackLog;
      // The original error (stack + cause chain) is logged; the logger redacts it.
      log.error("request failed", {
        errorCode: apiError.code,
        method: c.req.method,
        path: c.req.path,
        error: apiError.cause ?? (apiError === err ? undefined : err),
      });
      if (apiError.code === "INTERNAL") {
        recordServerError({
          config: c.get("config"),
          log,
          error: apiError.cause ?? err,
          functionName: c.get("functionName"),
          requestId,
          context: { method: c.req.method, path: c.req.path, errorCode: apiError.code },
        });
      }
    }
    return apiErrorResponse(apiError, requestId);
  };
}

/** Methods registered for a path, from the app's own route table (middleware excluded). */
export function allowedMethods(app: Hono<AppEnv>, path: string): string[] {
  const router = new PatternRouter<string>();
  const methods = new Set<string>();
  for (const route of app.routes) {
    if (route.method === "ALL") continue;
    router.add(route.method, route.path, route.method);
    methods.add(route.method);
  }
  const allowed = new Set<string>();
  for (const method of methods) {
    if (router.match(method, path)[0].length > 0) allowed.add(method);
  }
  if (allowed.has("GET")) allowed.add("HEAD");
  if (allowed.size > 0) allowed.add("OPTIONS");
  return [...allowed].sort();
}

export function notFoundHandler(app: Hono<AppEnv>): NotFoundHandler<AppEnv> {
  return (c) => {
    const allowed = allowedMethods(app, c.req.path);
    if (allowed.length > 0) {
      const allow = allowed.join(", ");
      if (c.req.method === "OPTIONS") {
        return new Response(null, { status: 204, headers: { Allow: allow } });
      }
      c.set("errorCode", "METHOD_NOT_ALLOWED");
      return apiErrorResponse(
        new ApiError("METHOD_NOT_ALLOWED", `Method ${c.req.method} is not allowed here`, {
          allow: allowed,
        }, { headers: { Allow: allow } }),
        requestIdOf(c),
      );
    }
    c.set("errorCode", "NOT_FOUND");
    return apiErrorResponse(new ApiError("NOT_FOUND", "No such route"), requestIdOf(c));
  };
}

/**
 * The ONE place SQL errors become HTTP errors.
 *
 * api.* functions raise `raise exception using errcode = 'P0001', message = '<CODE>',
 * detail = '<human text>'` with <CODE> from the error table (errors.ts). Optionally `hint` may
 * carry a JSON object, which becomes the envelope's `details`; a numeric
 * `details.retryAfterSeconds` also sets the `Retry-After` header.
 *
 * - MAINTENANCE / RATE_LIMITED from ops.require_flag / ops.rate_limit_require → guard_errors.ts
 * - a known <CODE> → ApiError(<CODE>, detail)
 * - connection failures (refused, timeout, closed, SQLSTATE 08xxx/57P0x/53300) → 503
 * - statement timeout / query cancelled (57014) → 504 TIMEOUT
 * - any other database error → 500 INTERNAL (its cause is logged, never shown)
 * - not a database error → null (the caller rethrows or handles it)
 */
import { ApiError, type ErrorDetails, isErrorCode } from "../http/errors.ts";
import { parseJsonObject } from "./detail_json.ts";
import { guardError } from "./guard_errors.ts";

interface DbErrorShape {
  name?: string;
  code?: string;
  message?: string;
  detail?: string;
  hint?: string;
}

/** Node/postgres.js error codes of a connection that could not be made or was lost. */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
]);

function isConnectionFailure(err: DbErrorShape & Error): boolean {
  if (err.code && CONNECTION_CODES.has(err.code)) return true;
  if (err.name === "PostgresError" && err.code) {
    return err.code.startsWith("08") || ["57P01", "57P02", "57P03", "53300"].includes(err.code);
  }
  return err instanceof Deno.errors.ConnectionRefused ||
    err instanceof Deno.errors.ConnectionReset ||
    err instanceof Deno.errors.TimedOut;
}

function parseHint(hint: string | undefined): ErrorDetails | undefined {
  if (!hint || !hint.trim().startsWith("{")) return undefined;
  return parseJsonObject(hint) ?? undefined;
}

export function isDbError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as DbErrorShape & Error;
  return e.name === "PostgresError" || isConnectionFailure(e);
}

export function mapDbError(err: unknown): ApiError | null {
  if (!(err instanceof Error)) return null;
  const e = err as DbErrorShape & Error;
  if (isConnectionFailure(e)) {
    return new ApiError("SERVICE_UNAVAILABLE", "The database is unavailable", undefined, {
      cause: err,
    });
  }
  if (e.name !== "PostgresError") return null;

  // Kill switches and rate limits from ops.* carry their retry data as JSON in `detail`.
  const guard = e.detail?.trimStart().startsWith("{") ? guardError(err) : null;
  if (guard) return guard;
  if (e.code === "P0001" && isErrorCode(e.message)) {
    const details = parseHint(e.hint);
    const headers: Record<string, string> = {};
    const retry = details?.retryAfterSeconds;
    if (typeof retry === "number" && Number.isFinite(retry) && retry >= 0) {
      headers["Retry-After"] = String(Math.ceil(retry));
    }
    return new ApiError(e.message, e.detail || defaultMessage(e.message), details, {
      headers,
      // A raised INTERNAL is still an internal error: keep the cause for the log.
      cause: e.message === "INTERNAL" ? err : undefined,
    });
  }
  if (e.code === "57014") {
    return new ApiError("TIMEOUT", "The database took too long", undefined, { cause: err });
  }
  return new ApiError("INTERNAL", "Internal error", undefined, { cause: err });
}

function defaultMessage(code: string): string {
  return code.toLowerCase().replaceAll("_", " ").replace(/^./, (c) => c.toUpperCase());
}

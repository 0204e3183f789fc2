/**
 * The one error envelope and the one table of error codes (common.md "Conventions").
 *
 *   { "error": { "code", "message", "requestId", "details"? } }
 *
 * Handlers `throw new ApiError(code, message, details?)`; the error handler (and the local
 * gateway, for requests that reach no function) turn it into a Response with `errorResponse`.
 */
import { SECURITY_HEADERS } from "./security-headers/index.ts";

/** Code → HTTP status. The only place statuses for errors are decided. */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  MODEL_NOT_ALLOWED: 400,
  UNAUTHORIZED: 401,
  INSUFFICIENT_CREDITS: 402,
  FORBIDDEN: 403,
  BLOCKED: 403,
  NOT_FOUND: 404,
  JOB_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  JOB_NOT_PENDING: 409,
  IDEMPOTENCY_KEY_IN_USE: 409,
  JOB_EXPIRED: 410,
  REQUEST_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE: 422,
  IDEMPOTENCY_KEY_REUSED: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  BAD_GATEWAY: 502,
  SERVICE_UNAVAILABLE: 503,
  MAINTENANCE: 503,
  CIRCUIT_BREAKER_OPEN: 503,
  ADMIN_DISABLED: 503,
  TIMEOUT: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;
export type ErrorStatus = (typeof ERROR_STATUS)[ErrorCode];

/** Extra machine-readable facts about an error. Never secrets, never raw tokens. */
export type ErrorDetails = Record<string, unknown>;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId: string; details?: ErrorDetails };
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_STATUS, value);
}

export interface ApiErrorOptions {
  /** Extra response headers, e.g. `Retry-After` for RATE_LIMITED or `Allow` for 405. */
  headers?: Record<string, string>;
  /** The underlying error: logged (redacted) for 5xx, never sent to the client. */
  cause?: unknown;
}

/** Throw from handlers and middleware; the error handler renders the envelope. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: ErrorStatus;
  readonly details?: ErrorDetails;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, details?: ErrorDetails, options?: ApiErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ApiError";
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.details = details;
    this.headers = { ...options?.headers };
  }
}

/** RFC 6750 challenge: no `error` attribute when no token was sent at all. */
function wwwAuthenticate(details?: ErrorDetails): string {
  const reason = typeof details?.reason === "string" ? details.reason : undefined;
  if (!reason || reason === "missing_token") return 'Bearer realm="tollgate"';
  const safe = reason.replace(/[^a-z_]/g, "");
  return `Bearer realm="tollgate", error="invalid_token", error_description="${safe}"`;
}

/** Builds the error envelope response for `code`. Also used by the local gateway. */
export function errorResponse(
  code: ErrorCode,
  message: string,
  requestId: string,
  details?: ErrorDetails,
  headers?: Record<string, string>,
): Response {
  const body: ErrorBody = { error: { code, message, requestId } };
  if (details !== undefined) body.error.details = details;
  const h = new Headers(SECURITY_HEADERS);
  h.set("content-type", "application/json; charset=utf-8");
  h.set("cache-control", "no-store");
  h.set("x-request-id", requestId);
  if (code === "UNAUTHORIZED") h.set("www-authenticate", wwwAuthenticate(details));
  for (const [k, v] of Object.entries(headers ?? {})) h.set(k, v);
  return new Response(JSON.stringify(body), { status: ERROR_STATUS[code], headers: h });
}

/** Renders an ApiError (with its extra headers). */
export function apiErrorResponse(err: ApiError, requestId: string): Response {
  return errorResponse(err.code, err.message, requestId, err.details, err.headers);
}

/** Fallback code for an arbitrary HTTP status (e.g. a framework HTTPException). */
export function codeForStatus(status: number): ErrorCode {
  const found = (Object.entries(ERROR_STATUS) as [ErrorCode, number][]).find(([, s]) =>
    s === status
  );
  if (found) return found[0];
  return status >= 500 ? "INTERNAL" : "VALIDATION_FAILED";
}

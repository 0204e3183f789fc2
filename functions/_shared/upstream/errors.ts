/**
 * Upstream failures as values. The caller (the `ai` function) maps them onto our error envelope
 * and decides about refunds; nothing here throws for an upstream problem.
 */

/**
 * - BAD_GATEWAY (502): 5xx/429 after retries, connection error, or upstream refused OUR credentials.
 * - TIMEOUT (504): no response headers within the per-attempt timeout or the overall deadline.
 * - CIRCUIT_BREAKER_OPEN (503): the breaker refused the call; the upstream was not contacted.
 * - UPSTREAM_REJECTED (400): the upstream said the request itself is invalid (4xx); `message` is
 *   the upstream's message, sanitised. Map to VALIDATION_FAILED (or keep the code) in the envelope.
 * - CLIENT_CLOSED (499): the caller's AbortSignal fired (the client went away). Nobody is left to
 *   answer; the caller only refunds/records it.
 */
export type UpstreamErrorCode =
  | "BAD_GATEWAY"
  | "TIMEOUT"
  | "CIRCUIT_BREAKER_OPEN"
  | "UPSTREAM_REJECTED"
  | "CLIENT_CLOSED";

export interface UpstreamError {
  code: UpstreamErrorCode;
  /** The HTTP status WE should answer with. */
  status: number;
  /** Safe to show to the client (never contains a key). */
  message: string;
  /** The last HTTP status the upstream answered with, if it answered at all. */
  upstreamStatus?: number;
  /** For 429/503 answers and an open breaker: when it is worth trying again. */
  retryAfterSeconds?: number;
  /** OpenAI-style error fields of a rejected request (sanitised), e.g. code "context_length_exceeded". */
  details?: { type?: string; code?: string; param?: string };
}

export const UPSTREAM_ERROR_STATUS: Record<UpstreamErrorCode, number> = {
  BAD_GATEWAY: 502,
  TIMEOUT: 504,
  CIRCUIT_BREAKER_OPEN: 503,
  UPSTREAM_REJECTED: 400,
  CLIENT_CLOSED: 499,
};

export function upstreamError(
  code: UpstreamErrorCode,
  message: string,
  extra: Omit<UpstreamError, "code" | "status" | "message"> = {},
): UpstreamError {
  return { code, status: UPSTREAM_ERROR_STATUS[code], message, ...extra };
}

const MAX_MESSAGE_CHARS = 500;
const REDACTED = "[redacted]";

// Order matters: specific shapes first, then the generic "long opaque token" catch-all.
const SECRET_PATTERNS: RegExp[] = [
  /\bBearer\s+[^\s"',;]+/gi,
  /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, // JWT
  /\b(?:sk|pk|rk)-[A-Za-z0-9_*-]{6,}/g, // OpenAI-style keys, including masked "sk-abc***xyz"
  /\b(?:api[_-]?key|key|token|secret|password|authorization)\s*[=:]\s*[^\s"',;]+/gi,
  /[A-Za-z0-9_+/=-]{32,}/g, // any long opaque token (keys, hashes, base64 blobs)
];

/**
 * Makes an upstream-provided message safe to pass to our client: removes anything that looks
 * like a key or token (plus the exact `secrets` given), collapses whitespace, caps the length.
 */
export function sanitizeUpstreamMessage(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join(REDACTED);
  }
  for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, REDACTED);
  out = out.replace(/\s+/g, " ").trim();
  if (out.length > MAX_MESSAGE_CHARS) out = out.slice(0, MAX_MESSAGE_CHARS - 1) + "…";
  return out;
}

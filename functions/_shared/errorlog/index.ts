/**
 * The error log (ops.error_log via api.log_error) for unexpected errors — the 500s.
 *
 * The error handler calls `recordServerError(...)`; the row is written AFTER the response
 * (EdgeRuntime.waitUntil where it exists, see ../audit/after_response.ts), so it never adds
 * latency, and a failed write is only logged. Message, stack and cause are redacted with the
 * logger's rules before they leave the function: no token, key or password reaches the table.
 *
 * Which writer is active:
 *   - on Supabase Edge Functions (the EdgeRuntime global exists): the database writer;
 *   - elsewhere (local gateway, unit tests): none, unless enabled with
 *     `setErrorLogWriter(dbErrorLogWriter)` — unit tests build apps whose database does not
 *     exist, and a background connection attempt would outlive them.
 */
import { edgeRuntime, runAfterResponse } from "../audit/after_response.ts";
import type { Config } from "../config.ts";
import { getSql } from "../db/client.ts";
import type { Logger } from "../log/logger.ts";
import { redact, redactString } from "../log/redact.ts";

export type ErrorLogLevel = "warn" | "error" | "fatal";

/** One ops.error_log row (already redacted). */
export interface ErrorLogEntry {
  level: ErrorLogLevel;
  message: string;
  stack: string | null;
  functionName: string | null;
  requestId: string | null;
  metadata: Record<string, unknown>;
}

/** Stores one entry. */
export type ErrorLogWriter = (entry: ErrorLogEntry, config: Config) => Promise<void>;

/** Writes through api.log_error as tollgate_api (the isolate's shared client). */
export const dbErrorLogWriter: ErrorLogWriter = async (entry, config) => {
  await getSql(config)`
    select api.log_error(${entry.level}::text, ${entry.message}::text, ${entry.stack}::text,
                         ${entry.functionName}::text, ${entry.requestId}::text,
                         ${JSON.stringify(entry.metadata)}::text::jsonb)`;
};

let override: ErrorLogWriter | null | undefined;

/** Chooses the writer: a function, null (off), or undefined (the default policy above). */
export function setErrorLogWriter(writer: ErrorLogWriter | null | undefined): void {
  override = writer;
}

function activeWriter(): ErrorLogWriter | null {
  if (override !== undefined) return override;
  return edgeRuntime() ? dbErrorLogWriter : null;
}

export interface ServerErrorInput {
  config: Config;
  log: Pick<Logger, "error">;
  error: unknown;
  functionName?: string;
  requestId?: string;
  /** Safe context: method, path, error code. */
  context?: Record<string, unknown>;
}

const MAX_METADATA_BYTES = 8 * 1024;

/** The redacted row for an error (exported for tests). */
export function errorLogEntry(input: Omit<ServerErrorInput, "config" | "log">): ErrorLogEntry {
  const err = input.error;
  const message = err instanceof Error
    ? `${err.name}: ${err.message}`
    : typeof err === "string"
    ? err
    : "non-error value thrown";
  let metadata = redact({
    ...input.context,
    ...(err instanceof Error && err.cause !== undefined ? { cause: err.cause } : {}),
  }) as Record<string, unknown>;
  if (JSON.stringify(metadata).length > MAX_METADATA_BYTES) {
    metadata = { truncated: true, ...input.context };
  }
  return {
    level: "error",
    message: redactString(message).slice(0, 2000),
    stack: err instanceof Error && err.stack ? redactString(err.stack).slice(0, 20000) : null,
    functionName: input.functionName ?? null,
    requestId: input.requestId ?? null,
    metadata,
  };
}

/** Queues the error-log row for after the response; does nothing when no writer is active. */
export function recordServerError(input: ServerErrorInput): void {
  const writer = activeWriter();
  if (!writer) return;
  const entry = errorLogEntry(input);
  runAfterResponse(() => writer(entry, input.config), input.log, "error log write failed");
}

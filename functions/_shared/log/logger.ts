/**
 * JSON-line logger: one object per line, redacted, filtered by LOG_LEVEL.
 * Fields every request line carries: ts, level, msg, requestId, function, method, route, status,
 * durationMs and account (when known). Child loggers bind fields (`log.child({ requestId })`).
 */
import type { LogLevel } from "../config.ts";
import { redact } from "./redact.ts";

export type { LogLevel };
export type LogFields = Record<string, unknown>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Where lines go; tests swap it to capture output. */
export type LogSink = (level: LogLevel, line: string) => void;

const consoleSink: LogSink = (level, line) => {
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
};

export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  /** Minimum level written (default "info"). */
  level?: LogLevel;
  /** Fields on every line, e.g. `{ function: "jobs" }`. */
  fields?: LogFields;
  /** Output (default: console, error/warn to stderr). */
  sink?: LogSink;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? "info";
  const bound = options.fields ?? {};
  const sink = options.sink ?? consoleSink;
  const write = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[lvl] < RANK[level]) return;
    const entry = { ts: new Date().toISOString(), level: lvl, msg, ...bound, ...fields };
    let line: string;
    try {
      line = JSON.stringify(redact(entry));
    } catch {
      line = JSON.stringify({ ts: entry.ts, level: lvl, msg: "unserialisable log entry" });
    }
    sink(lvl, line);
  };
  return {
    level,
    debug: (msg, fields) => write("debug", msg, fields),
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
    child: (fields) => createLogger({ level, sink, fields: { ...bound, ...fields } }),
  };
}

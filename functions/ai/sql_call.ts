/**
 * One network round trip per SQL call on the hot path.
 *
 * postgres.js with `prepare: false` (required by Supavisor's transaction mode) sends every query
 * that has parameters as Parse + Describe, WAITS for the parameter description, and only then
 * sends Bind + Execute: two round trips per statement. A statement without parameters goes out
 * as Parse + Bind + Execute + Sync in one write. So the two hot-path calls (api.ai_begin,
 * api.ai_settle) are sent with their arguments inlined as literals — built here, never from
 * string concatenation of raw input:
 *
 *   null, booleans, safe integers   → as is
 *   strings of [A-Za-z0-9 ._:/+=@-]  → '...' (nothing to escape)
 *   any other string, bytes, JSON    → decode('<hex>', 'hex') (bytes), convert_from(…, 'UTF8')
 *                                      (text): hex digits only, whatever standard_conforming_strings
 *
 * Every literal is followed by an explicit cast to the parameter's declared type.
 */
import type { Sql } from "../_shared/db/client.ts";

export type SqlType = "uuid" | "text" | "boolean" | "bigint" | "int" | "bytea" | "jsonb";

export type SqlArg = readonly [value: unknown, type: SqlType];

const PLAIN = /^[A-Za-z0-9 ._:/+=@-]*$/;
const FUNCTION_NAME = /^[a-z_]+\.[a-z_]+$/;
const encoder = new TextEncoder();

function hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

function textLiteral(value: string): string {
  if (value.includes("\0")) throw new TypeError("text values cannot contain NUL");
  return PLAIN.test(value)
    ? `'${value}'`
    : `convert_from(decode('${hex(encoder.encode(value))}', 'hex'), 'UTF8')`;
}

/** The SQL literal of one argument, cast to its type. Throws for values of the wrong shape. */
export function sqlLiteral(value: unknown, type: SqlType): string {
  if (value === null || value === undefined) return `null::${type}`;
  switch (type) {
    case "boolean":
      if (typeof value !== "boolean") throw new TypeError("expected a boolean");
      return value ? "true" : "false";
    case "bigint":
    case "int":
      if (typeof value !== "number" || !Number.isSafeInteger(value)) {
        throw new TypeError("expected a safe integer");
      }
      return `${value}::${type}`;
    case "bytea":
      if (!(value instanceof Uint8Array)) throw new TypeError("expected bytes");
      return `decode('${hex(value)}', 'hex')`;
    case "jsonb":
      return `${textLiteral(JSON.stringify(value))}::jsonb`;
    case "uuid":
    case "text":
      if (typeof value !== "string") throw new TypeError("expected a string");
      return `${textLiteral(value)}::${type}`;
  }
}

/** `select <columns> from <fn>(<literals>)` as one statement without parameters. */
export function callStatement(fn: string, args: readonly SqlArg[], columns = "*"): string {
  if (!FUNCTION_NAME.test(fn)) throw new TypeError("bad function name");
  if (!/^[a-z_, *]+$/.test(columns)) throw new TypeError("bad column list");
  return `select ${columns} from ${fn}(${args.map(([v, t]) => sqlLiteral(v, t)).join(", ")})`;
}

/** Runs a set-returning api function in one round trip. */
export async function callFunction<T>(
  sql: Sql,
  fn: string,
  args: readonly SqlArg[],
  columns = "*",
): Promise<T[]> {
  return await sql.unsafe(callStatement(fn, args, columns)) as unknown as T[];
}

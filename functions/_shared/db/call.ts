/**
 * One network round trip per SQL call, for every route.
 *
 * postgres.js with `prepare: false` (required by Supavisor's transaction mode) sends every query
 * that has parameters as Parse + Describe, WAITS for the parameter description, and only then
 * sends Bind + Execute: two round trips per statement. A statement without parameters goes out
 * as Parse + Bind + Execute + Sync in one write. So the per-request api.* calls (AI begin/settle,
 * jobs, credits, rate limits, idempotency) are sent with their arguments inlined as literals —
 * built here, never from string concatenation of raw input:
 *
 *   null, booleans, safe integers   → as is
 *   JS bigint (type bigint only)     → as is (digits only; range-checked to int8)
 *   strings of [A-Za-z0-9 ._:/+=@-]  → '...' (nothing to escape)
 *   any other string, bytes, JSON    → decode('<hex>', 'hex') (bytes), convert_from(…, 'UTF8')
 *                                      (text): hex digits only, whatever standard_conforming_strings
 *
 * Every literal is followed by an explicit cast to the parameter's declared type, so pass the
 * type the SQL function declares. Result rows have the same shapes as tagged-template queries
 * (types come from the row description: bigint columns arrive as strings, timestamptz as Date).
 */
import type { Sql } from "./client.ts";

/** Anything that can run a statement without parameters (any postgres.js client). */
export type SqlRunner = Pick<Sql, "unsafe">;

export type SqlType = "uuid" | "text" | "boolean" | "bigint" | "int" | "bytea" | "jsonb";

export type SqlArg = readonly [value: unknown, type: SqlType];

const PLAIN = /^[A-Za-z0-9 ._:/+=@-]*$/;
const FUNCTION_NAME = /^[a-z_]+\.[a-z_]+$/;
const encoder = new TextEncoder();
// -(2^63 - 1): `-9223372036854775808::bigint` would cast the positive literal first and overflow.
const INT8_MAX = 2n ** 63n - 1n;

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
      if (typeof value === "bigint") {
        if (value < -INT8_MAX || value > INT8_MAX) throw new TypeError("bigint out of range");
        return `${value}::bigint`;
      }
    // falls through: a number must be a safe integer
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

/** Runs an api function (set-returning or scalar) in one round trip. */
export async function callFunction<T>(
  sql: SqlRunner,
  fn: string,
  args: readonly SqlArg[],
  columns = "*",
): Promise<T[]> {
  return await sql.unsafe(callStatement(fn, args, columns)) as unknown as T[];
}

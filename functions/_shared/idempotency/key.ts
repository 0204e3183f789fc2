/**
 * The `Idempotency-Key` request header: 1..255 visible ASCII characters (spaces allowed inside,
 * not at either end). A malformed key is 400 VALIDATION_FAILED, never silently ignored: a client
 * that sends a key expects protection from double execution.
 */
import type { Context } from "hono";
import { ApiError } from "../http/errors.ts";

export const IDEMPOTENCY_KEY_HEADER = "Idempotency-Key";
export const IDEMPOTENT_REPLAYED_HEADER = "Idempotent-Replayed";
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

const WELL_FORMED_KEY = /^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$/;

export function isWellFormedIdempotencyKey(value: string): boolean {
  return WELL_FORMED_KEY.test(value);
}

/**
 * The request's idempotency key, or null when the header is absent.
 * Throws 400 VALIDATION_FAILED when it is present but malformed (the value is never echoed).
 */
export function readIdempotencyKey(c: Context): string | null {
  const value = c.req.header(IDEMPOTENCY_KEY_HEADER);
  if (value === undefined) return null;
  if (!isWellFormedIdempotencyKey(value)) {
    throw new ApiError("VALIDATION_FAILED", "Invalid Idempotency-Key", {
      fields: [{
        path: "headers.idempotency-key",
        message: "1 to 255 printable ASCII characters, no leading or trailing space",
      }],
    });
  }
  return value;
}

/** Like readIdempotencyKey, but a missing header is also 400 (routes that require a key). */
export function requireIdempotencyKey(c: Context): string {
  const key = readIdempotencyKey(c);
  if (key === null) {
    throw new ApiError("VALIDATION_FAILED", "Idempotency-Key header is required", {
      fields: [{ path: "headers.idempotency-key", message: "Required" }],
    });
  }
  return key;
}

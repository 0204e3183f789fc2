/**
 * The stored form of a response (credits.idempotency_keys.response_body, jsonb) and its replay.
 *
 *   { "v": 1, "headers": { "content-type": "..." }, "json": <value> }     JSON bodies
 *   { "v": 1, "headers": {...}, "text": "..." }                            other text bodies
 *   { "v": 1, "headers": {...}, "base64": "..." }                          binary bodies
 *   { "v": 1, "headers": {...}, "notReplayable": "streamed" | "too_large" }
 *
 * SQL functions that complete a key themselves (e.g. api.jobs_start) store the same shape, so
 * one replay path serves both. A `notReplayable` entry still blocks a re-run (no double
 * charge); its replay is 409 CONFLICT with details.reason = "not_replayable".
 */
import { ApiError } from "../http/errors.ts";
import { IDEMPOTENT_REPLAYED_HEADER } from "./key.ts";

export type NotReplayableReason = "streamed" | "too_large";

export interface StoredResponse {
  v: 1;
  /** Lower-case header names from the replayable allow-list (content-type at least). */
  headers: Record<string, string>;
  json?: unknown;
  text?: string;
  base64?: string;
  notReplayable?: NotReplayableReason;
}

/** Response headers that are part of a replay (everything else is per-request). */
export const DEFAULT_REPLAY_HEADERS = ["content-type", "location"] as const;

const TEXTUAL = /^(text\/|application\/([\w.-]+\+)?(json|xml)|application\/x-www-form-urlencoded)/i;
const JSON_TYPE = /^application\/([\w.-]+\+)?json/i;

function pickHeaders(res: Response, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = res.headers.get(name);
    if (value !== null) out[name.toLowerCase()] = value;
  }
  return out;
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function fromBase64(value: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(value), (ch) => ch.charCodeAt(0));
}

/**
 * Captures a finished response for replay without consuming it (reads a clone). Event streams
 * are never buffered (they may run for minutes); bodies above `maxBytes` are not stored.
 */
export async function captureResponse(
  res: Response,
  options: { maxBytes: number; replayHeaders?: readonly string[] },
): Promise<StoredResponse> {
  const headers = pickHeaders(res, options.replayHeaders ?? DEFAULT_REPLAY_HEADERS);
  const type = res.headers.get("content-type") ?? "";
  if (/^text\/event-stream/i.test(type)) return { v: 1, headers, notReplayable: "streamed" };
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > options.maxBytes) {
    return { v: 1, headers, notReplayable: "too_large" };
  }
  if (res.body === null) return { v: 1, headers, text: "" };
  const bytes = new Uint8Array(await res.clone().arrayBuffer());
  if (bytes.length > options.maxBytes) return { v: 1, headers, notReplayable: "too_large" };
  if (JSON_TYPE.test(type)) {
    const text = new TextDecoder().decode(bytes);
    try {
      return { v: 1, headers, json: JSON.parse(text) };
    } catch {
      return { v: 1, headers, text };
    }
  }
  if (TEXTUAL.test(type)) return { v: 1, headers, text: new TextDecoder().decode(bytes) };
  return { v: 1, headers, base64: toBase64(bytes) };
}

/** A stored JSON body (what SQL functions that complete a key themselves store). */
export function storedJson(json: unknown): StoredResponse {
  return { v: 1, headers: { "content-type": "application/json" }, json };
}

/** Narrows an unknown jsonb value to a StoredResponse, or null. */
export function asStoredResponse(value: unknown): StoredResponse | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  if (v.v !== 1 || typeof v.headers !== "object" || v.headers === null) return null;
  return v as unknown as StoredResponse;
}

/**
 * The replay of a stored response, with `Idempotent-Replayed: true`. Throws 409 CONFLICT for a
 * response that could not be stored (streamed / too large): the request is not run again.
 */
export function replayResponse(status: number, stored: StoredResponse): Response {
  if (stored.notReplayable) {
    throw new ApiError(
      "CONFLICT",
      "A request with this Idempotency-Key already completed; its response cannot be replayed",
      { reason: "not_replayable", originalStatus: status, why: stored.notReplayable },
      { headers: { [IDEMPOTENT_REPLAYED_HEADER]: "true" } },
    );
  }
  const headers = new Headers(stored.headers);
  headers.set(IDEMPOTENT_REPLAYED_HEADER, "true");
  headers.set("cache-control", "no-store");
  let body: BodyInit | null;
  if (stored.json !== undefined) {
    body = JSON.stringify(stored.json);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  } else if (stored.base64 !== undefined) body = fromBase64(stored.base64);
  else body = stored.text ?? null;
  // 204/304 must not carry a body.
  if (status === 204 || status === 304) body = null;
  return new Response(body, { status, headers });
}

/**
 * `idempotency()`: Hono middleware for `Idempotency-Key` on POSTs that move credits.
 *
 *   same key + same request (method, path, body[, extra parts]) → the first response replayed,
 *                                                  with `Idempotent-Replayed: true` (1 round trip)
 *   same key + different request                   → 422 IDEMPOTENCY_KEY_REUSED
 *   same key while the first request still runs    → 409 IDEMPOTENCY_KEY_IN_USE
 *   no key                                         → runs normally (400 when `required`)
 *   malformed key                                  → 400 VALIDATION_FAILED
 *
 * Keys are per account (mount it AFTER `auth()`), kept 24 h. Only responses that `store`
 * accepts (default: 2xx) are recorded; any other outcome abandons the claim, so the client may
 * retry with the same key — our api.* calls are single transactions, so a failed request
 * changed nothing. A first response that is an event stream (or larger than `maxStoredBytes`)
 * is recorded as "not replayable": a repeat gets 409 CONFLICT (reason not_replayable) and is
 * never run twice.
 *
 * Cost: a fresh request makes 2 extra round trips (begin, then complete/abandon); a replay makes
 * exactly one and never reaches the handler. Hot routes can avoid the extra trips by passing
 * the key and `hashRequest(c)` into their own api.* function (see api.jobs_start).
 *
 * Usage (AI proxy):
 *   app.post("/v1/chat/completions", auth(), idempotency({ hashParts: (c) => [c.var.deviceId ?? ""] }), handler)
 * Handlers can read the key as `c.var.idempotencyKey` (null when none was sent).
 */
import type { Context, MiddlewareHandler } from "hono";
import { getSql } from "../db/client.ts";
import type { AuthEnv } from "../auth/middleware/index.ts";
import { hashRequest } from "./hash.ts";
import { readIdempotencyKey, requireIdempotencyKey } from "./key.ts";
import { createSqlIdempotencyStore, type IdempotencyStore } from "./store.ts";
import { captureResponse, DEFAULT_REPLAY_HEADERS, replayResponse } from "./stored.ts";

export interface IdempotencyVariables {
  /** The validated Idempotency-Key of this request, or null. */
  idempotencyKey: string | null;
}

export type IdempotencyEnv = {
  Variables: AuthEnv["Variables"] & IdempotencyVariables;
};

export interface IdempotencyOptions {
  /** 400 when the header is missing (default false: optional but recommended). */
  required?: boolean;
  /** Methods it applies to (default ["POST"]); other methods pass through untouched. */
  methods?: readonly string[];
  /** Where keys live (default: api.idempotency_* through the isolate's getSql()). */
  store?: IdempotencyStore;
  /** Extra request parts bound to the key, e.g. the X-Device-Id (default none). */
  hashParts?: (c: Context) => readonly string[];
  /** Which finished responses are recorded for replay (default: status 200..299). */
  storable?: (status: number) => boolean;
  /** Largest body stored for replay in bytes (default 256 KiB); larger → not replayable. */
  maxStoredBytes?: number;
  /** Response headers replayed besides the body (default content-type, location). */
  replayHeaders?: readonly string[];
}

export const DEFAULT_MAX_STORED_BYTES = 256 * 1024;

const is2xx = (status: number) => status >= 200 && status < 300;

export function idempotency(options: IdempotencyOptions = {}): MiddlewareHandler<IdempotencyEnv> {
  const methods = new Set((options.methods ?? ["POST"]).map((m) => m.toUpperCase()));
  const storable = options.storable ?? is2xx;
  const maxBytes = options.maxStoredBytes ?? DEFAULT_MAX_STORED_BYTES;
  const replayHeaders = options.replayHeaders ?? DEFAULT_REPLAY_HEADERS;
  let defaultStore: IdempotencyStore | undefined;
  const storeFor = (c: Context<IdempotencyEnv>) =>
    options.store ?? (defaultStore ??= createSqlIdempotencyStore(() => getSql(c.get("config"))));

  return async function idempotencyMiddleware(c, next) {
    if (!methods.has(c.req.method)) {
      c.set("idempotencyKey", null);
      return await next();
    }
    const key = options.required ? requireIdempotencyKey(c) : readIdempotencyKey(c);
    c.set("idempotencyKey", key);
    if (key === null) return await next();

    const account = c.get("account");
    if (!account) throw new Error("idempotency() must run after auth(): no account");
    const hash = await hashRequest(c, options.hashParts?.(c) ?? []);
    const store = storeFor(c);

    const begun = await store.begin(account, key, hash);
    if (begun.state === "replay") return replayResponse(begun.status, begun.response);

    try {
      await next();
    } catch (err) {
      // Only reached when no error handler is installed; abandon, then let it propagate.
      await abandonQuietly(c, store, account, key);
      throw err;
    }

    // Hono's compose has already turned a thrown error into c.res (via onError).
    const res = c.res;
    if (!storable(res.status)) {
      await abandonQuietly(c, store, account, key);
      return;
    }
    try {
      const stored = await captureResponse(res, { maxBytes, replayHeaders });
      await store.complete(account, key, res.status, stored);
    } catch (err) {
      // The work is done and answered; the claim stays in progress and becomes reusable after
      // 10 minutes. Log, never fail the response.
      c.get("log")?.warn("idempotency: could not record the response", { error: err });
    }
  };
}

async function abandonQuietly(
  c: Context<IdempotencyEnv>,
  store: IdempotencyStore,
  account: string,
  key: string,
): Promise<void> {
  try {
    await store.abandon(account, key);
  } catch (err) {
    c.get("log")?.warn("idempotency: could not abandon a claim", { error: err });
  }
}

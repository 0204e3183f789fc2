/**
 * Idempotency-Key support (issue 4). Import from here:
 *
 *   idempotency(options)          Hono middleware (after auth()): replay / 422 / 409 / 400
 *   readIdempotencyKey(c)         validated header value or null (400 when malformed)
 *   requireIdempotencyKey(c)      same, 400 when missing
 *   hashRequest(c, extra?)        hex SHA-256 of method + path + raw body (+ extra parts)
 *   replayResponse(status, s)     a stored response replayed with Idempotent-Replayed: true
 *   captureResponse(res, opts)    a finished response → StoredResponse (jsonb)
 *   storedJson(value)             StoredResponse for a JSON body (what SQL-side completions store)
 *   createSqlIdempotencyStore(sql) the api.idempotency_begin/complete/abandon store
 *
 * For a one-round-trip hot path, pass `readIdempotencyKey(c)` and `await hashRequest(c)` into the
 * route's own api.* function, which checks the key, acts and records the response in ONE
 * transaction (see api.jobs_start and functions/jobs/routes/start.ts). Either way, a replay
 * costs one round trip.
 */
export {
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
  isWellFormedIdempotencyKey,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  readIdempotencyKey,
  requireIdempotencyKey,
} from "./key.ts";
export { hashRequest, requestHash } from "./hash.ts";
export {
  asStoredResponse,
  captureResponse,
  DEFAULT_REPLAY_HEADERS,
  type NotReplayableReason,
  replayResponse,
  storedJson,
  type StoredResponse,
} from "./stored.ts";
export { type BeginResult, createSqlIdempotencyStore, type IdempotencyStore } from "./store.ts";
export {
  DEFAULT_MAX_STORED_BYTES,
  idempotency,
  type IdempotencyEnv,
  type IdempotencyOptions,
  type IdempotencyVariables,
} from "./middleware.ts";

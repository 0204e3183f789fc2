/**
 * Resilient calls to the AI provider. Entry points:
 * - UpstreamClient (per base URL, owns a CircuitBreaker) or the lower-level callUpstream();
 * - buildUpstreamHeaders() — the header allow-list;
 * - SseParser / readSseEvents() / serializeSseError() — streaming helpers.
 */
export {
  type BreakerOptions,
  type BreakerOutcome,
  type BreakerPermit,
  BreakerRegistry,
  type BreakerState,
  CircuitBreaker,
} from "./breaker.ts";
export {
  callUpstream,
  type CallUpstreamOptions,
  defaultSleep,
  type UpstreamDeps,
  type UpstreamFailure,
  type UpstreamOk,
  type UpstreamPolicy,
  type UpstreamRequest,
  type UpstreamResult,
} from "./call.ts";
export { type UpstreamCallOptions, UpstreamClient, type UpstreamClientOptions } from "./client.ts";
export {
  sanitizeUpstreamMessage,
  UPSTREAM_ERROR_STATUS,
  type UpstreamError,
  upstreamError,
  type UpstreamErrorCode,
} from "./errors.ts";
export {
  assertAllowedUpstreamHeaders,
  buildUpstreamHeaders,
  UPSTREAM_HEADER_ALLOW_LIST,
} from "./headers.ts";
export { backoffDelayMs, isRetryableStatus, parseRetryAfterMs } from "./retry.ts";
export {
  isDoneEvent,
  readSseEvents,
  serializeSseData,
  serializeSseError,
  serializeSseEvent,
  SSE_DONE,
  type SseErrorBody,
  type SseEvent,
  SseParser,
} from "./sse.ts";

/**
 * One paid AI call, shared by the chat, speech and images routes:
 *
 *   breaker open? → 503 at once (no SQL, nothing charged)
 *   job headers + Idempotency-Key → api.ai_begin (round trip 1): replay | refused | started
 *   route's `run(call)`: upstream call, then exactly one `call.settle(...)` (round trip 2)
 *
 * `call.signal` aborts when the client disconnects BEFORE the response starts (then Deno's
 * request.signal is a real disconnect); `call.detachClient()` is called by streaming routes when
 * they hand out their body — from then on the body's cancel is the disconnect signal.
 */
import type { Context } from "hono";
import type { AuthEnv } from "../_shared/auth/middleware/index.ts";
import { ApiError, type ErrorCode, isErrorCode } from "../_shared/http/errors.ts";
import { hashRequest } from "../_shared/idempotency/hash.ts";
import { readIdempotencyKey } from "../_shared/idempotency/key.ts";
import { asStoredResponse, replayResponse } from "../_shared/idempotency/stored.ts";
import { readJobCredentials } from "../_shared/jobs/headers.ts";
import { rateLimitHeaders } from "../_shared/ratelimit/headers.ts";
import type { UpstreamError, UpstreamResult } from "../_shared/upstream/mod.ts";
import type { AiDeps } from "./deps.ts";
import {
  type AiKind,
  beginCall,
  type RateLimitState,
  settleCall,
  type StartedCall,
} from "./ledger.ts";
import type { UnitPrices } from "./pricing.ts";

export interface CallSpec {
  kind: AiKind;
  model: string;
  streamed: boolean;
  inputUnits: number;
  outputUnits: number | null;
  voice?: string;
  size?: string;
  quality?: string;
  run: (call: PaidCall) => Promise<Response>;
}

export interface SettleOutcome {
  status: "succeeded" | "partial" | "failed";
  errorCode?: string | null;
  inputUnits?: number | null;
  outputUnits?: number | null;
  usageSource?: "upstream" | "estimated" | null;
  /** True when the provider failed: the rate-limit token goes back too. */
  upstreamFailed?: boolean;
  /** Stored for Idempotency-Key replays (null: the key is released, or see `notReplayable`). */
  response?: { status: number; body: unknown } | null;
}

/** Provider failures (not the client's doing): they give the rate-limit token back. */
const PROVIDER_FAILURES = new Set([
  "BAD_GATEWAY",
  "TIMEOUT",
  "CIRCUIT_BREAKER_OPEN",
  "UPSTREAM_MALFORMED",
]);

export function isProviderFailure(code: string): boolean {
  return PROVIDER_FAILURES.has(code);
}

export class PaidCall {
  readonly generationId: string;
  readonly reserved: number;
  readonly maxOutputUnits: number | null;
  readonly size: string | null;
  readonly quality: string | null;
  readonly prices: UnitPrices;
  readonly account: string;
  readonly requestId: string;
  readonly hasIdempotencyKey: boolean;
  readonly deps: AiDeps;
  readonly c: Context<AuthEnv>;
  readonly #started = performance.now();
  readonly #client = new AbortController();
  readonly #onRequestAbort = () =>
    this.#client.abort(new DOMException("client closed", "AbortError"));
  #detached = false;
  #settled: Promise<void> | null = null;
  #upstream: { status: number | null; attempts: number | null; latencyMs: number | null } = {
    status: null,
    attempts: null,
    latencyMs: null,
  };

  constructor(
    c: Context<AuthEnv>,
    deps: AiDeps,
    started: StartedCall,
    hasIdempotencyKey: boolean,
  ) {
    this.c = c;
    this.deps = deps;
    this.account = c.var.account;
    this.requestId = c.var.requestId;
    this.generationId = started.generationId;
    this.reserved = started.reserved;
    this.maxOutputUnits = started.maxOutputUnits;
    this.size = started.size;
    this.quality = started.quality;
    this.prices = started.prices;
    this.hasIdempotencyKey = hasIdempotencyKey;
    const signal = c.req.raw.signal;
    if (signal.aborted) this.#onRequestAbort();
    else signal.addEventListener("abort", this.#onRequestAbort, { once: true });
  }

  /** Aborts when the client disconnects before the response started. */
  get signal(): AbortSignal {
    return this.#client.signal;
  }

  get clientClosed(): boolean {
    return this.#client.signal.aborted && !this.#detached;
  }

  get elapsedMs(): number {
    return performance.now() - this.#started;
  }

  /** The response body is being handed out: stop listening to request.signal (see header). */
  detachClient(): void {
    this.#detached = true;
    this.c.req.raw.signal.removeEventListener("abort", this.#onRequestAbort);
  }

  /** Remembers what the upstream did, for the generation record. */
  noteUpstream(result: UpstreamResult): void {
    this.#upstream = {
      status: result.ok ? result.response.status : result.error.upstreamStatus ?? null,
      attempts: result.attempts,
      latencyMs: Math.round(result.latencyMs),
    };
  }

  /** Settles the call exactly once (later calls wait for the first and change nothing). */
  settle(outcome: SettleOutcome): Promise<void> {
    this.#settled ??= this.#settle(outcome);
    return this.#settled;
  }

  async #settle(o: SettleOutcome): Promise<void> {
    this.detachClient();
    await settleCall(this.deps.sql(), {
      account: this.account,
      generationId: this.generationId,
      status: o.status,
      errorCode: o.errorCode ?? null,
      inputUnits: o.inputUnits ?? null,
      outputUnits: o.outputUnits ?? null,
      usageSource: o.usageSource ?? null,
      upstreamStatus: this.#upstream.status,
      attempts: this.#upstream.attempts,
      latencyMs: this.#upstream.latencyMs,
      durationMs: this.elapsedMs,
      giveBackRateLimit: o.upstreamFailed === true,
      response: this.hasIdempotencyKey ? o.response ?? null : null,
    }, this.c.var.log);
  }

  /**
   * The upstream call failed before anything reached the client: refund everything, then answer
   * with the mapped error (or, when the client is gone, with nothing anyone will read).
   */
  async failBeforeResponse(error: UpstreamError): Promise<Response> {
    await this.settle({
      status: "failed",
      errorCode: error.code,
      upstreamFailed: isProviderFailure(error.code),
    });
    if (error.code === "CLIENT_CLOSED") return new Response(null, { status: 499 });
    throw upstreamApiError(error);
  }

  /** A malformed or broken upstream body before anything reached the client. */
  async failMalformed(code: "UPSTREAM_MALFORMED" | "BAD_GATEWAY" | "TIMEOUT"): Promise<Response> {
    if (this.clientClosed) {
      await this.settle({ status: "failed", errorCode: "CLIENT_CLOSED" });
      return new Response(null, { status: 499 });
    }
    await this.settle({ status: "failed", errorCode: code, upstreamFailed: true });
    if (code === "TIMEOUT") throw new ApiError("TIMEOUT", "The AI provider did not answer in time");
    throw new ApiError(
      "BAD_GATEWAY",
      code === "UPSTREAM_MALFORMED"
        ? "The AI provider sent an answer that could not be read"
        : "The connection to the AI provider broke",
    );
  }
}

/** Upstream failure → our envelope (the message is already sanitised by the upstream module). */
export function upstreamApiError(error: UpstreamError): ApiError {
  const headers: Record<string, string> = {};
  if (error.retryAfterSeconds !== undefined) {
    headers["Retry-After"] = String(error.retryAfterSeconds);
  }
  switch (error.code) {
    case "UPSTREAM_REJECTED":
      return new ApiError("VALIDATION_FAILED", error.message, {
        reason: "upstream_rejected",
        upstreamStatus: error.upstreamStatus,
        ...(error.details ?? {}),
      });
    case "CIRCUIT_BREAKER_OPEN":
      return new ApiError("CIRCUIT_BREAKER_OPEN", error.message, {
        retryAfterSeconds: error.retryAfterSeconds,
      }, { headers });
    case "TIMEOUT":
      return new ApiError("TIMEOUT", error.message, undefined, { headers });
    default:
      return new ApiError(
        "BAD_GATEWAY",
        error.message,
        error.upstreamStatus === undefined ? undefined : { upstreamStatus: error.upstreamStatus },
        { headers },
      );
  }
}

/**
 * Runs a paid call. Returns the route's response; refusals, replays and upstream failures come
 * back as ApiErrors (the error handler renders them, RateLimit headers included).
 */
export async function paidCall(
  c: Context<AuthEnv>,
  deps: AiDeps,
  spec: CallSpec,
): Promise<Response> {
  // An open breaker answers at once: no SQL, no reservation, nothing to refund.
  if (deps.upstream.breaker.state === "open") {
    const retryAfter = Math.max(1, Math.ceil(deps.settings.breakerCoolDownMs / 1000));
    throw new ApiError("CIRCUIT_BREAKER_OPEN", "The AI provider is unavailable; retry later", {
      retryAfterSeconds: retryAfter,
    }, { headers: { "Retry-After": String(retryAfter) } });
  }

  const job = await readJobCredentials(c);
  const key = readIdempotencyKey(c);
  const device = c.var.deviceId;
  const requestHash = key === null ? null : await hashRequest(c, [device ?? "", job?.jobId ?? ""]);
  const policy = deps.policies[spec.kind];

  const begun = await beginCall(deps.sql(), {
    account: c.var.account,
    kind: spec.kind,
    model: spec.model,
    streamed: spec.streamed,
    inputUnits: spec.inputUnits,
    outputUnits: spec.outputUnits,
    voice: spec.voice,
    size: spec.size,
    quality: spec.quality,
    job,
    deviceId: device,
    rateLimit: policy ? { quota: policy.quota, windowSeconds: policy.windowSeconds } : null,
    initialGrant: deps.config.INITIAL_GRANT,
    idempotency: key === null || requestHash === null ? null : { key, requestHash },
    requestId: c.var.requestId,
  });

  if (begun.outcome === "replay") {
    const stored = asStoredResponse(begun.body);
    if (!stored) throw new ApiError("INTERNAL", "Stored response is unreadable");
    return replayResponse(begun.status, stored);
  }
  // Set on the context for normal answers; copied into errors, whose envelope is a new Response.
  const limitHeaders = rateLimitHeadersFor(deps, spec.kind, begun.rateLimit);
  for (const [name, value] of Object.entries(limitHeaders)) c.header(name, value);
  if (begun.outcome === "refused") {
    const code: ErrorCode = isErrorCode(begun.code) ? begun.code : "INTERNAL";
    throw new ApiError(code, begun.message, begun.details ?? undefined, { headers: limitHeaders });
  }
  const call = new PaidCall(c, deps, begun, key !== null);
  try {
    return await spec.run(call);
  } catch (err) {
    // Whatever went wrong before a response: give everything back (a no-op when the route
    // already settled), then let the error handler answer.
    await call.settle({
      status: "failed",
      errorCode: err instanceof ApiError ? err.code : "INTERNAL",
    });
    if (err instanceof ApiError) {
      for (const [name, value] of Object.entries(limitHeaders)) err.headers[name] ??= value;
    }
    throw err;
  }
}

function rateLimitHeadersFor(
  deps: AiDeps,
  kind: AiKind,
  state: RateLimitState | null,
): Record<string, string> {
  const policy = deps.policies[kind];
  if (!policy || !state) return {};
  return rateLimitHeaders([{
    policy,
    allowed: true,
    remaining: state.remaining,
    resetSeconds: state.resetSeconds,
    retryAfterSeconds: 0,
  }]);
}

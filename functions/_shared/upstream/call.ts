/**
 * One resilient upstream call: per-attempt first-byte timeout, overall deadline, retries with
 * full-jitter backoff (only before a response is handed to the caller, and only for connection
 * errors, 429 and 5xx), Retry-After, circuit breaker and caller abort. Returns a value, never
 * throws for upstream trouble.
 */
import type { CircuitBreaker } from "./breaker.ts";
import { sanitizeUpstreamMessage, type UpstreamError, upstreamError } from "./errors.ts";
import { assertAllowedUpstreamHeaders } from "./headers.ts";
import { backoffDelayMs, isRetryableStatus, parseRetryAfterMs } from "./retry.ts";

export interface UpstreamRequest {
  url: string | URL;
  /** Default "POST" when there is a body, else "GET". */
  method?: "GET" | "POST";
  /** Build with buildUpstreamHeaders(); anything off the allow-list is refused. */
  headers: Headers;
  /** Must be replayable (retries send it again), so no streams. */
  body?: string | Uint8Array<ArrayBuffer>;
  /** Fires when our client went away: aborts the attempt, the backoff and the returned body. */
  signal?: AbortSignal;
}

export interface UpstreamPolicy {
  /** Time allowed per attempt until response headers arrive. Default 30 000 ms. */
  firstByteTimeoutMs?: number;
  /** Overall budget from the call's start until the final attempt's headers. Default 60 000 ms. */
  deadlineMs?: number;
  /** Attempts in total (1 = no retry). Default 3. */
  maxAttempts?: number;
  /** Backoff base for full jitter. Default 250 ms. */
  baseDelayMs?: number;
  /** Backoff ceiling. Default 4 000 ms. */
  maxDelayMs?: number;
  /**
   * Retry after a first-byte timeout? Default false: a timed-out non-streamed completion may
   * still be running (and billed) upstream, so we do not start a second one.
   */
  retryOnTimeout?: boolean;
}

export interface UpstreamDeps {
  fetch?: typeof fetch;
  /** Milliseconds; used for the deadline, Retry-After dates and latency. Default Date.now. */
  now?: () => number;
  /** Backoff pause; must resolve early (not reject) when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** [0, 1). Default Math.random. */
  random?: () => number;
}

export interface CallUpstreamOptions extends UpstreamPolicy, UpstreamDeps {
  breaker?: CircuitBreaker;
  /** Exact strings to redact from upstream messages (pass the API key). */
  secrets?: readonly string[];
}

export interface UpstreamOk {
  ok: true;
  /** Status 2xx, body NOT consumed: stream it through or parse it. */
  response: Response;
  attempts: number;
  /** Time until the returned response's headers, including retries. */
  latencyMs: number;
  /** Stops the upstream request (e.g. the job's hold is used up mid-stream). */
  abort(reason?: unknown): void;
  /** Tell the breaker the body failed after all (broke midway, malformed JSON). */
  reportBodyFailure(): void;
}

export interface UpstreamFailure {
  ok: false;
  error: UpstreamError;
  attempts: number;
  latencyMs: number;
}

export type UpstreamResult = UpstreamOk | UpstreamFailure;

const DEFAULTS = {
  firstByteTimeoutMs: 30_000,
  deadlineMs: 60_000,
  maxAttempts: 3,
  baseDelayMs: 250,
  maxDelayMs: 4_000,
} as const;

const MAX_ERROR_BODY_BYTES = 64 * 1024;

type AttemptOutcome =
  | { kind: "ok"; response: Response; abort: (reason?: unknown) => void }
  | { kind: "rejected"; error: UpstreamError }
  | { kind: "retryable"; error: UpstreamError; retryAfterMs?: number }
  | { kind: "connection"; error: UpstreamError }
  | { kind: "timeout"; error: UpstreamError }
  | { kind: "aborted" };

export function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

export async function callUpstream(
  request: UpstreamRequest,
  options: CallUpstreamOptions = {},
): Promise<UpstreamResult> {
  assertAllowedUpstreamHeaders(request.headers);
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULTS.maxAttempts);
  const started = now();
  const deadlineAt = started + (options.deadlineMs ?? DEFAULTS.deadlineMs);
  const breaker = options.breaker;
  let attempts = 0;
  let last: UpstreamError | undefined;

  const fail = (error: UpstreamError): UpstreamFailure => ({
    ok: false,
    error,
    attempts,
    latencyMs: now() - started,
  });
  const clientClosed = () => fail(upstreamError("CLIENT_CLOSED", "the client closed the request"));

  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    if (request.signal?.aborted) return clientClosed();
    const remaining = deadlineAt - now();
    if (remaining <= 0) return fail(last ?? timeoutError());

    const permit = breaker?.acquire() ?? { allowed: true as const, release: () => {} };
    if (!permit.allowed) {
      // Mid-retry the real upstream error is the better answer; before any attempt, fail fast.
      return fail(
        last ?? upstreamError("CIRCUIT_BREAKER_OPEN", "the AI provider is unavailable", {
          retryAfterSeconds: Math.max(1, Math.ceil(permit.retryAfterMs / 1000)),
        }),
      );
    }

    attempts++;
    const timeoutMs = Math.min(
      options.firstByteTimeoutMs ?? DEFAULTS.firstByteTimeoutMs,
      remaining,
    );
    const outcome = await attemptOnce(request, timeoutMs, options, now);

    switch (outcome.kind) {
      case "ok":
        permit.release("success");
        return {
          ok: true,
          response: outcome.response,
          attempts,
          latencyMs: now() - started,
          abort: outcome.abort,
          reportBodyFailure: () => breaker?.recordFailure(),
        };
      case "rejected":
        permit.release("success"); // the upstream is healthy; it judged the request
        return fail(outcome.error);
      case "aborted":
        permit.release("neutral");
        return clientClosed();
      case "timeout":
        permit.release("failure");
        if (!options.retryOnTimeout) return fail(outcome.error);
        last = outcome.error;
        break;
      case "connection":
        permit.release("failure");
        last = outcome.error;
        break;
      case "retryable":
        permit.release("failure");
        last = outcome.error;
        break;
    }

    if (attempt === maxAttempts) break;
    const retryAfterMs = outcome.kind === "retryable" ? outcome.retryAfterMs : undefined;
    const delay = retryAfterMs ??
      backoffDelayMs(
        attempt,
        options.baseDelayMs ?? DEFAULTS.baseDelayMs,
        options.maxDelayMs ?? DEFAULTS.maxDelayMs,
        random,
      );
    // Retry-After (or backoff) is capped by the deadline: if the pause would use it up, stop now.
    if (now() + delay >= deadlineAt) break;
    await sleep(delay, request.signal);
  }
  if (request.signal?.aborted) return clientClosed();
  return fail(last ?? timeoutError());
}

function timeoutError(): UpstreamError {
  return upstreamError("TIMEOUT", "the AI provider did not answer in time");
}

async function attemptOnce(
  request: UpstreamRequest,
  timeoutMs: number,
  options: CallUpstreamOptions,
  now: () => number,
): Promise<AttemptOutcome> {
  const controller = new AbortController();
  const signal = request.signal;
  const onCallerAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener("abort", onCallerAbort, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException("upstream first-byte timeout", "TimeoutError"));
  }, timeoutMs);
  const cleanup = () => {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onCallerAbort);
  };

  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(request.url, {
      method: request.method ?? (request.body === undefined ? "GET" : "POST"),
      headers: request.headers,
      body: request.body,
      signal: controller.signal,
      // Never follow a redirect: it could carry our Authorization header somewhere else.
      redirect: "manual",
    });
  } catch {
    cleanup();
    if (signal?.aborted) return { kind: "aborted" };
    if (timedOut) return { kind: "timeout", error: timeoutError() };
    return {
      kind: "connection",
      error: upstreamError("BAD_GATEWAY", "could not reach the AI provider"),
    };
  }

  const status = response.status;
  if (status >= 200 && status < 300) {
    clearTimeout(timer); // from here on the caller owns the body; only its signal (or abort) stops it
    return { kind: "ok", response, abort: (reason) => controller.abort(reason) };
  }

  if (isRetryableStatus(status)) {
    const retryAfterMs = parseRetryAfterMs(response.headers, now());
    await response.body?.cancel().catch(() => {});
    cleanup();
    if (signal?.aborted) return { kind: "aborted" };
    return {
      kind: "retryable",
      retryAfterMs,
      error: upstreamError(
        "BAD_GATEWAY",
        status === 429
          ? "the AI provider is rate limiting requests (HTTP 429)"
          : `the AI provider failed (HTTP ${status})`,
        {
          upstreamStatus: status,
          ...(retryAfterMs === undefined
            ? {}
            : { retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) }),
        },
      ),
    };
  }

  const text = await readCapped(response, MAX_ERROR_BODY_BYTES);
  cleanup();
  if (signal?.aborted) return { kind: "aborted" };
  if (status === 401 || status === 403 || status < 400) {
    // 401/403 are about OUR key, 3xx a misconfigured base URL: not the client's fault.
    return {
      kind: "rejected",
      error: upstreamError(
        "BAD_GATEWAY",
        `the AI provider refused the server's request (HTTP ${status})`,
        { upstreamStatus: status },
      ),
    };
  }
  const parsed = parseOpenAiError(text, options.secrets ?? []);
  return {
    kind: "rejected",
    error: upstreamError(
      "UPSTREAM_REJECTED",
      parsed.message || `the AI provider rejected the request (HTTP ${status})`,
      { upstreamStatus: status, ...(parsed.details ? { details: parsed.details } : {}) },
    ),
  };
}

async function readCapped(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.byteLength;
    }
  } catch {
    // a broken error body leaves us with the generic message
  } finally {
    reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const p of parts) {
    bytes.set(p, offset);
    offset += p.byteLength;
  }
  return new TextDecoder().decode(bytes.subarray(0, maxBytes));
}

/** Extracts `{error:{message,type,code,param}}` (OpenAI's shape), sanitised. */
function parseOpenAiError(
  text: string,
  secrets: readonly string[],
): { message?: string; details?: UpstreamError["details"] } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return {};
  }
  const err = (body as { error?: unknown } | null)?.error;
  if (typeof err === "string") return { message: sanitizeUpstreamMessage(err, secrets) };
  if (!err || typeof err !== "object") return {};
  const e = err as Record<string, unknown>;
  const field = (v: unknown) =>
    typeof v === "string" && v ? sanitizeUpstreamMessage(v, secrets).slice(0, 100) : undefined;
  const details: NonNullable<UpstreamError["details"]> = {};
  for (const key of ["type", "code", "param"] as const) {
    const value = field(e[key]);
    if (value) details[key] = value;
  }
  return {
    message: typeof e.message === "string"
      ? sanitizeUpstreamMessage(e.message, secrets)
      : undefined,
    details: Object.keys(details).length ? details : undefined,
  };
}

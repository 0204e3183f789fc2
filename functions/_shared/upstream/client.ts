/**
 * UpstreamClient: one per base URL (e.g. OPENAI_BASE_URL), owning that upstream's circuit
 * breaker, API key and default policy. Create it once per isolate (module scope), not per request.
 */
import { type BreakerOptions, CircuitBreaker } from "./breaker.ts";
import {
  callUpstream,
  type UpstreamDeps,
  type UpstreamPolicy,
  type UpstreamResult,
} from "./call.ts";
import { buildUpstreamHeaders } from "./headers.ts";

export interface UpstreamClientOptions extends UpstreamPolicy, UpstreamDeps {
  /** e.g. "https://api.openai.com/v1"; paths are appended to it. */
  baseUrl: string;
  /** The server secret (OPENAI_API_KEY); also redacted from upstream messages. */
  apiKey: string;
  /** Share a breaker, or let the client create one from `breakerOptions`. */
  breaker?: CircuitBreaker;
  breakerOptions?: BreakerOptions;
}

export interface UpstreamCallOptions extends UpstreamPolicy {
  /** Accept header; default "application/json". "text/event-stream" for streams, "*\/*" for audio. */
  accept?: string;
  /** Content-Type of `body`; default "application/json". */
  contentType?: string;
  signal?: AbortSignal;
}

export class UpstreamClient {
  readonly breaker: CircuitBreaker;
  readonly #baseUrl: string;
  readonly #apiKey: string;
  readonly #defaults: UpstreamPolicy & UpstreamDeps;

  constructor(options: UpstreamClientOptions) {
    const { baseUrl, apiKey, breaker, breakerOptions, ...defaults } = options;
    this.#baseUrl = baseUrl.replace(/\/+$/, "");
    this.#apiKey = apiKey;
    this.breaker = breaker ?? new CircuitBreaker({ now: defaults.now, ...breakerOptions });
    this.#defaults = defaults;
  }

  /** POST `body` (JSON text by default) to `<baseUrl>/<path>`. */
  post(
    path: string,
    body: string | Uint8Array<ArrayBuffer>,
    options: UpstreamCallOptions = {},
  ): Promise<UpstreamResult> {
    return this.#call(path, "POST", body, options);
  }

  get(path: string, options: UpstreamCallOptions = {}): Promise<UpstreamResult> {
    return this.#call(path, "GET", undefined, options);
  }

  #call(
    path: string,
    method: "GET" | "POST",
    body: string | Uint8Array<ArrayBuffer> | undefined,
    options: UpstreamCallOptions,
  ): Promise<UpstreamResult> {
    const { accept, contentType, signal, ...policy } = options;
    const headers = buildUpstreamHeaders(
      this.#apiKey,
      body === undefined ? undefined : contentType ?? "application/json",
      accept,
    );
    return callUpstream(
      { url: `${this.#baseUrl}/${path.replace(/^\/+/, "")}`, method, headers, body, signal },
      { ...this.#defaults, ...policy, breaker: this.breaker, secrets: [this.#apiKey] },
    );
  }
}

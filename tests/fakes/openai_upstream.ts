/**
 * A fake OpenAI-compatible upstream for tests, the local stack and the proxy benchmark.
 *
 *   deno run -A tests/fakes/openai_upstream.ts --port 54329 [--api-key sk-...] [--hostname 127.0.0.1]
 *   const fake = await startFakeUpstream({ port: 0 });  // fake.baseUrl → OPENAI_BASE_URL
 *
 * Routes: POST /v1/chat/completions (JSON and SSE), POST /v1/audio/speech, POST
 * /v1/images/generations, GET /v1/models, GET /files/<name>.png (image URLs), and test-only
 * POST /__control {mode}, GET /__control/stats, POST /__control/reset (no auth).
 *
 * Behaviour is chosen PER REQUEST by directives found anywhere in the raw request body (message
 * content, speech input, image prompt), so concurrent tests never interfere:
 *   FAULT:<status>            answer <status> (4xx/5xx) with an OpenAI-style error body
 *   FAULT:429[:<seconds>]     429 with Retry-After (default 1)
 *   FAULT:400[:leak]          400 invalid_request_error; ":leak" puts a key-like token in the message
 *   FAULT:hang                never answer until the client aborts (or the fake closes)
 *   FAULT:slow_first_byte:<ms> wait <ms> before the response headers, then answer normally
 *   FAULT:disconnect_mid_stream  send about half the body (SSE chunks, JSON, audio), then cut the
 *                             connection (the client sees a body read error)
 *   FAULT:malformed_json      200 with a body that is not valid JSON (SSE: one broken chunk)
 *   FAULT:missing_usage       a normal answer without `usage` (SSE: no usage chunk)
 *   FAULT:fail_times:<n>:<id> the first <n> requests carrying this exact directive get 503,
 *                             later ones succeed (counted per fake instance)
 *   WORDS:<n>                 chat: generate n words (default 20), still capped by max_tokens
 *   CHUNK_DELAY:<ms>          chat SSE: pause between chunks (for mid-stream client disconnects)
 *   BYTES:<n>                 speech: audio size in bytes (default 200 000)
 * Only the first FAULT directive counts. /__control modes "all_500" and "all_hang" apply to every
 * authorised request and take precedence over directives.
 *
 * Token accounting (deterministic, so tests can compute expected charges):
 *   prompt_tokens = ceil(total characters of message text / 4)
 *   completion_tokens = number of generated words; every word has 3 letters and the text is the
 *   words joined by single spaces, so completion_tokens = ceil(text.length / 4) as well.
 */

import { handleAppStoreRequest } from "./appstore.ts";

/** Requests under this prefix are answered by the fake App Store Server API. */
const APPSTORE_PREFIX = "/appstore";

export interface FakeUpstreamOptions {
  /** 0 or omitted: a free port. */
  port?: number;
  hostname?: string;
  /** Expected bearer key. Omitted: any non-empty bearer token is accepted. */
  apiKey?: string;
  /** Print one line per request. */
  verbose?: boolean;
}

export interface RecordedRequest {
  seq: number;
  method: string;
  path: string;
  /** Lower-case header names as they arrived. */
  headers: Record<string, string>;
  body: string;
  fault?: string;
  receivedAt: number;
}

export type FakeMode = "normal" | "all_500" | "all_hang";

export interface FakeStats {
  mode: FakeMode;
  total: number;
  inFlight: number;
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
}

export interface FakeUpstream {
  /** Origin, e.g. http://127.0.0.1:41234 (no /v1). */
  url: string;
  /** `${url}/v1` — what OPENAI_BASE_URL should be. */
  baseUrl: string;
  port: number;
  requests(): RecordedRequest[];
  stats(): FakeStats;
  setMode(mode: FakeMode): void;
  /** Clears recorded requests, stats and fail_times counters; mode back to normal. */
  reset(): void;
  close(): Promise<void>;
}

export const FAKE_MODELS = [
  "gpt-4o-mini",
  "gpt-4o",
  "gpt-4.1-mini",
  "tts-1",
  "gpt-4o-mini-tts",
  "dall-e-3",
  "gpt-image-1",
] as const;

const WORDS = [
  "one",
  "two",
  "six",
  "ten",
  "red",
  "big",
  "sun",
  "sea",
  "sky",
  "fox",
  "owl",
  "ant",
  "bee",
  "cat",
  "dog",
  "elk",
];

const DEFAULT_WORDS = 20;
const DEFAULT_SPEECH_BYTES = 200_000;
const SPEECH_CHUNK = 16 * 1024;
const encoder = new TextEncoder();

/** The generated completion for `n` words (exported so tests can compute expectations). */
export function fakeCompletionText(n: number): string {
  return Array.from({ length: n }, (_, i) => WORDS[i % WORDS.length]).join(" ");
}

/** The deterministic audio bytes the speech route returns for `size`. */
export function fakeSpeechBytes(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  const header = [0x49, 0x44, 0x33, 0x04, 0x00]; // "ID3" so it smells like mp3
  for (let i = 0; i < size; i++) bytes[i] = i < header.length ? header[i] : (i * 31 + 7) & 0xff;
  return bytes;
}

/** A valid 1×1 PNG (what image routes return, as b64_json or behind a URL). */
export const FAKE_PNG_BASE64 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

/** ceil(chars / 4) over every text part of every message. */
export function fakePromptTokens(messages: unknown): number {
  if (!Array.isArray(messages)) return 0;
  let chars = 0;
  for (const m of messages) {
    const content = (m as { content?: unknown })?.content;
    if (typeof content === "string") chars += content.length;
    else if (Array.isArray(content)) {
      for (const part of content) {
        const text = (part as { text?: unknown })?.text;
        if (typeof text === "string") chars += text.length;
      }
    }
  }
  return Math.ceil(chars / 4);
}

interface Fault {
  name: string;
  args: string[];
  raw: string;
}

function parseFault(body: string): Fault | undefined {
  const m = /FAULT:([a-z_]+|\d{3})((?::[A-Za-z0-9_.-]+)*)/.exec(body);
  if (!m) return undefined;
  return { name: m[1], args: m[2].split(":").filter(Boolean), raw: m[0] };
}

function numberDirective(body: string, name: string): number | undefined {
  const m = new RegExp(`${name}:(\\d+)`).exec(body);
  return m ? Number(m[1]) : undefined;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

function json(status: number, body: unknown, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function openAiError(
  status: number,
  message: string,
  type: string,
  code: string | null,
  headers: HeadersInit = {},
): Response {
  return json(status, { error: { message, type, param: null, code } }, headers);
}

/**
 * A body whose declared Content-Length is larger than what is sent: after `parts` the stream
 * ends and the server drops the connection, so the client's body read fails (a clean way to
 * simulate a mid-body disconnect without a server-side stack trace).
 */
function truncatedBody(
  parts: Uint8Array[],
  contentType: string,
  declaredLength: number,
  gapMs = 5,
): Response {
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i >= parts.length) {
        controller.close();
        return;
      }
      if (i > 0) await sleep(gapMs);
      controller.enqueue(parts[i++]);
    },
  });
  return new Response(stream, {
    headers: { "content-type": contentType, "content-length": String(declaredLength) },
  });
}

export function startFakeUpstream(options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const closing = new AbortController();
  const recorded: RecordedRequest[] = [];
  const failCounters = new Map<string, number>();
  let mode: FakeMode = "normal";
  let seq = 0;
  let stats: FakeStats = { mode, total: 0, inFlight: 0, byRoute: {}, byStatus: {} };
  let origin = "";

  const count = (status: number) => {
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
  };

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const route = `${req.method} ${url.pathname}`;
    if (url.pathname.startsWith("/__control")) return control(req, url.pathname);
    // The local stack points APPSTORE_API_BASE_URL here, so admin's App Store ping works too.
    if (url.pathname.startsWith(APPSTORE_PREFIX)) {
      return handleAppStoreRequest(req, { pathPrefix: APPSTORE_PREFIX });
    }
    if (req.method === "GET" && url.pathname.startsWith("/files/")) {
      return new Response(Uint8Array.from(atob(FAKE_PNG_BASE64), (c) => c.charCodeAt(0)), {
        headers: { "content-type": "image/png" },
      });
    }

    const body = req.method === "POST" ? await req.text().catch(() => "") : "";
    const fault = parseFault(body);
    const headers: Record<string, string> = {};
    for (const [k, v] of req.headers) headers[k.toLowerCase()] = v;
    const requestSeq = ++seq;
    recorded.push({
      seq: requestSeq,
      method: req.method,
      path: url.pathname,
      headers,
      body,
      fault: fault?.raw,
      receivedAt: Date.now(),
    });
    stats.total++;
    stats.byRoute[route] = (stats.byRoute[route] ?? 0) + 1;
    if (options.verbose) console.log(`fake upstream: ${route}${fault ? ` ${fault.raw}` : ""}`);

    const routes: Record<string, (body: string, seq: number, fault?: Fault) => Response> = {
      "POST /v1/chat/completions": chat,
      "POST /v1/audio/speech": speech,
      "POST /v1/images/generations": images,
      "GET /v1/models": models,
    };
    const handler = routes[route];
    if (!handler) {
      return openAiError(404, `Unknown request URL: ${route}`, "invalid_request_error", null);
    }

    const auth = req.headers.get("authorization") ?? "";
    const key = /^Bearer (\S+)$/.exec(auth)?.[1];
    if (!key || (options.apiKey !== undefined && key !== options.apiKey)) {
      const shown = key ? `${key.slice(0, 3)}***${key.slice(-4)}` : "(none)";
      return openAiError(
        401,
        `Incorrect API key provided: ${shown}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        "invalid_request_error",
        "invalid_api_key",
      );
    }

    if (mode === "all_500") return serverError(500);
    if (mode === "all_hang") return hang(req);

    if (fault) {
      const early = await applyFault(req, fault);
      if (early) return early;
    }
    if (body) {
      try {
        JSON.parse(body);
      } catch {
        return openAiError(
          400,
          "We could not parse the JSON body of your request.",
          "invalid_request_error",
          null,
        );
      }
    }
    return handler(body || "{}", requestSeq, fault);
  }

  /** Faults that decide the whole answer before the route runs; undefined = continue. */
  async function applyFault(req: Request, fault: Fault): Promise<Response | undefined> {
    if (/^\d{3}$/.test(fault.name)) {
      const status = Number(fault.name);
      if (status === 429) {
        return openAiError(
          429,
          "Rate limit reached for requests (fake upstream).",
          "requests",
          "rate_limit_exceeded",
          { "retry-after": fault.args[0] ?? "1" },
        );
      }
      if (status === 400) {
        const leak = fault.args[0] === "leak"
          ? " Incorrect API key provided: sk-proj-LEAKED0123456789abcdefABCDEF."
          : "";
        return json(400, {
          error: {
            message: `Invalid value for 'messages': rejected by the fake upstream.${leak}`,
            type: "invalid_request_error",
            param: "messages",
            code: "invalid_value",
          },
        });
      }
      if (status >= 500) return serverError(status);
      return openAiError(status, `Fake upstream error ${status}.`, "invalid_request_error", null);
    }
    switch (fault.name) {
      case "hang":
        return hang(req);
      case "slow_first_byte":
        await sleep(Number(fault.args[0] ?? 1000), closing.signal);
        return undefined;
      case "fail_times": {
        const n = Number(fault.args[0] ?? 1);
        const key = fault.args.join(":");
        const seen = failCounters.get(key) ?? 0;
        failCounters.set(key, seen + 1);
        return seen < n ? serverError(503) : undefined;
      }
      default:
        return undefined; // disconnect_mid_stream, malformed_json, missing_usage: route-level
    }
  }

  function serverError(status: number): Response {
    return openAiError(
      status,
      "The server had an error while processing your request. Sorry about that!",
      "server_error",
      null,
    );
  }

  async function hang(req: Request): Promise<Response> {
    const done = AbortSignal.any([req.signal, closing.signal]);
    await new Promise<void>((resolve) => {
      if (done.aborted) return resolve();
      done.addEventListener("abort", () => resolve(), { once: true });
    });
    return new Response(null, { status: 499 });
  }

  function chat(bodyText: string, seq: number, fault?: Fault): Response {
    const body = JSON.parse(bodyText) as Record<string, unknown>;
    const model = typeof body.model === "string" ? body.model : "gpt-4o-mini";
    const maxTokens = Number(body.max_completion_tokens ?? body.max_tokens ?? Infinity);
    const wanted = numberDirective(bodyText, "WORDS") ?? DEFAULT_WORDS;
    const words = Math.max(0, Math.min(wanted, maxTokens, 100_000));
    const finishReason = words < wanted ? "length" : "stop";
    const text = fakeCompletionText(words);
    const usage = {
      prompt_tokens: fakePromptTokens(body.messages),
      completion_tokens: words,
      total_tokens: fakePromptTokens(body.messages) + words,
    };
    const id = `chatcmpl-fake-${seq}`;
    const created = Math.floor(Date.now() / 1000);
    const faultName = fault?.name;

    if (body.stream === true) {
      const includeUsage =
        (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
      const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
        id,
        object: "chat.completion.chunk",
        created,
        model,
        system_fingerprint: "fp_fake",
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
        ...(includeUsage ? { usage: null } : {}),
      });
      const events: string[] = [
        `data: ${
          JSON.stringify(chunk({ role: "assistant", content: "", refusal: null }, null))
        }\n\n`,
      ];
      for (let i = 0; i < words; i++) {
        const content = (i === 0 ? "" : " ") + WORDS[i % WORDS.length];
        events.push(`data: ${JSON.stringify(chunk({ content }, null))}\n\n`);
      }
      events.push(`data: ${JSON.stringify(chunk({}, finishReason))}\n\n`);
      if (includeUsage && faultName !== "missing_usage") {
        const last = { ...chunk({}, null), choices: [], usage };
        events.push(`data: ${JSON.stringify(last)}\n\n`);
      }
      events.push("data: [DONE]\n\n");

      if (faultName === "malformed_json") {
        events.splice(
          1,
          0,
          `data: {"id":"${id}","object":"chat.completion.chunk","choices":[{\n\n`,
        );
      }
      if (faultName === "disconnect_mid_stream") {
        const sent = events.slice(0, Math.max(2, Math.floor(events.length / 2)));
        return truncatedBody(sent.map((e) => encoder.encode(e)), "text/event-stream", 10_000_000);
      }
      const delay = numberDirective(bodyText, "CHUNK_DELAY") ?? 0;
      return sseResponse(events, delay);
    }

    if (faultName === "malformed_json") {
      return new Response(`{"id":"${id}","object":"chat.completion","choices":[{"message":`, {
        headers: { "content-type": "application/json" },
      });
    }
    const answer = {
      id,
      object: "chat.completion",
      created,
      model,
      system_fingerprint: "fp_fake",
      choices: [{
        index: 0,
        message: { role: "assistant", content: text, refusal: null },
        logprobs: null,
        finish_reason: finishReason,
      }],
      ...(faultName === "missing_usage" ? {} : { usage }),
    };
    if (faultName === "disconnect_mid_stream") return truncatedJson(answer);
    return json(200, answer);
  }

  function sseResponse(events: string[], delayMs: number): Response {
    let i = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (i >= events.length) {
          controller.close();
          return;
        }
        if (i > 0 && delayMs > 0) await sleep(delayMs, closing.signal);
        controller.enqueue(encoder.encode(events[i++]));
      },
    });
    return new Response(stream, {
      headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" },
    });
  }

  function truncatedJson(answer: unknown): Response {
    const bytes = encoder.encode(JSON.stringify(answer));
    const half = Math.floor(bytes.length / 2);
    return truncatedBody([bytes.subarray(0, half)], "application/json", bytes.length);
  }

  function speech(bodyText: string, _seq: number, fault?: Fault): Response {
    const body = JSON.parse(bodyText) as Record<string, unknown>;
    const size = Math.min(numberDirective(bodyText, "BYTES") ?? DEFAULT_SPEECH_BYTES, 20_000_000);
    const format = typeof body.response_format === "string" ? body.response_format : "mp3";
    const contentType = {
      mp3: "audio/mpeg",
      opus: "audio/opus",
      aac: "audio/aac",
      flac: "audio/flac",
      wav: "audio/wav",
      pcm: "audio/pcm",
    }[format] ?? "audio/mpeg";
    if (fault?.name === "malformed_json") {
      return new Response("{oops", { headers: { "content-type": "application/json" } });
    }
    const bytes = fakeSpeechBytes(size);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < size; i += SPEECH_CHUNK) chunks.push(bytes.subarray(i, i + SPEECH_CHUNK));
    if (fault?.name === "disconnect_mid_stream") {
      return truncatedBody(chunks.slice(0, Math.max(1, chunks.length >> 1)), contentType, size);
    }
    let i = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (i >= chunks.length) controller.close();
        else controller.enqueue(chunks[i++]);
      },
    });
    return new Response(stream, { headers: { "content-type": contentType } });
  }

  function images(bodyText: string, seq: number, fault?: Fault): Response {
    const body = JSON.parse(bodyText) as Record<string, unknown>;
    const model = typeof body.model === "string" ? body.model : "dall-e-3";
    const n = Math.max(1, Math.min(Number(body.n ?? 1) || 1, 10));
    const b64 = body.response_format === "b64_json" || model.startsWith("gpt-image");
    if (fault?.name === "malformed_json") {
      return new Response(`{"created":${Math.floor(Date.now() / 1000)},"data":[{"url":`, {
        headers: { "content-type": "application/json" },
      });
    }
    const answer = {
      created: Math.floor(Date.now() / 1000),
      data: Array.from(
        { length: n },
        (_, i) =>
          b64
            ? { b64_json: FAKE_PNG_BASE64 }
            : { url: `${origin}/files/fake-image-${seq}-${i}.png`, revised_prompt: body.prompt },
      ),
      ...(model.startsWith("gpt-image") && fault?.name !== "missing_usage"
        ? {
          usage: {
            input_tokens: Math.ceil(String(body.prompt ?? "").length / 4),
            output_tokens: 272 * n,
            total_tokens: Math.ceil(String(body.prompt ?? "").length / 4) + 272 * n,
          },
        }
        : {}),
    };
    if (fault?.name === "disconnect_mid_stream") return truncatedJson(answer);
    return json(200, answer);
  }

  function models(): Response {
    return json(200, {
      object: "list",
      data: FAKE_MODELS.map((id) => ({
        id,
        object: "model",
        created: 1700000000,
        owned_by: "fake",
      })),
    });
  }

  async function control(req: Request, path: string): Promise<Response> {
    if (req.method === "GET" && path === "/__control/stats") return json(200, snapshot());
    if (req.method === "POST" && path === "/__control/reset") {
      resetAll();
      return json(200, snapshot());
    }
    if (req.method === "POST" && path === "/__control") {
      const body = await req.json().catch(() => ({})) as { mode?: unknown };
      if (body.mode !== "normal" && body.mode !== "all_500" && body.mode !== "all_hang") {
        return json(400, { error: { message: "mode must be normal | all_500 | all_hang" } });
      }
      mode = body.mode;
      return json(200, snapshot());
    }
    return json(404, { error: { message: "unknown control route" } });
  }

  function snapshot(): FakeStats {
    return structuredClone({ ...stats, mode });
  }

  function resetAll(): void {
    recorded.length = 0;
    failCounters.clear();
    mode = "normal";
    stats = { mode, total: 0, inFlight: stats.inFlight, byRoute: {}, byStatus: {} };
  }

  const server = Deno.serve({
    port: options.port ?? 0,
    hostname: options.hostname ?? "127.0.0.1",
    signal: closing.signal,
    onListen() {},
  }, async (req) => {
    stats.inFlight++;
    try {
      const res = await handle(req);
      count(res.status);
      return res;
    } finally {
      stats.inFlight--;
    }
  });
  origin = `http://${
    server.addr.hostname.includes(":") ? `[${server.addr.hostname}]` : server.addr.hostname
  }:${server.addr.port}`;

  return Promise.resolve({
    url: origin,
    baseUrl: `${origin}/v1`,
    port: server.addr.port,
    requests: () => recorded.slice(),
    stats: snapshot,
    setMode: (m) => {
      mode = m;
    },
    reset: resetAll,
    close: async () => {
      closing.abort();
      await server.finished;
    },
  });
}

function parseArgs(args: string[]): FakeUpstreamOptions {
  const options: FakeUpstreamOptions = { verbose: args.includes("--verbose") };
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (args[i] === "--port") options.port = Number(next);
    if (args[i] === "--hostname") options.hostname = next;
    if (args[i] === "--api-key") options.apiKey = next;
  }
  options.apiKey ??= Deno.env.get("FAKE_UPSTREAM_API_KEY") || undefined;
  return options;
}

if (import.meta.main) {
  const fake = await startFakeUpstream(parseArgs(Deno.args));
  console.log(`fake OpenAI upstream listening on ${fake.url} (OPENAI_BASE_URL=${fake.baseUrl})`);
}

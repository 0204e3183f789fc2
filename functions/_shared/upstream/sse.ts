/**
 * Server-sent events: an incremental parser for upstream `text/event-stream` bodies (chunks may
 * split anywhere — inside a line, a CRLF pair or a multi-byte character) and serializers for
 * the events we emit ourselves, including the final error event.
 *
 * Parsing follows the WHATWG event-stream rules: lines end in CRLF, LF or CR; `:` lines are
 * comments; `data` lines accumulate (joined with "\n"); a blank line dispatches; an event with no
 * data is not dispatched; an unterminated event at end of stream is discarded.
 */

export interface SseEvent {
  /** The `event:` field; undefined means the default ("message"). */
  event?: string;
  data: string;
  id?: string;
  retry?: number;
}

/** True for OpenAI's end-of-stream sentinel `data: [DONE]`. */
export function isDoneEvent(event: SseEvent): boolean {
  return event.data === "[DONE]";
}

export class SseParser {
  readonly #decoder = new TextDecoder();
  #buffer = "";
  #data: string[] = [];
  #event: string | undefined;
  #id: string | undefined;
  #retry: number | undefined;
  #hasFields = false;

  /** Feeds the next chunk; returns the events it completed (possibly none). */
  push(chunk: Uint8Array | string): SseEvent[] {
    this.#buffer += typeof chunk === "string"
      ? chunk
      : this.#decoder.decode(chunk, { stream: true });
    return this.#drain(false);
  }

  /** Ends the stream: returns events completed by the final bytes; drops an unterminated one. */
  end(): SseEvent[] {
    this.#buffer += this.#decoder.decode();
    const events = this.#drain(true);
    this.#buffer = "";
    this.#reset();
    return events;
  }

  /** True when bytes of an event that was never terminated are pending (stream cut midway). */
  get hasPartialEvent(): boolean {
    return this.#hasFields || this.#buffer.length > 0;
  }

  #drain(final: boolean): SseEvent[] {
    const events: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.#buffer.length; i++) {
      const ch = this.#buffer.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      // A CR at the very end may be the first half of a CRLF that the next chunk completes.
      if (ch === 13 && i === this.#buffer.length - 1 && !final) break;
      const line = this.#buffer.slice(start, i);
      if (ch === 13 && this.#buffer.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
      const event = this.#line(line);
      if (event) events.push(event);
    }
    this.#buffer = this.#buffer.slice(start);
    return events;
  }

  #line(line: string): SseEvent | undefined {
    if (line === "") return this.#dispatch();
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "data":
        this.#data.push(value);
        this.#hasFields = true;
        break;
      case "event":
        this.#event = value;
        this.#hasFields = true;
        break;
      case "id":
        if (!value.includes("\0")) this.#id = value;
        this.#hasFields = true;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.#retry = Number(value);
        this.#hasFields = true;
        break;
    }
    return undefined;
  }

  #dispatch(): SseEvent | undefined {
    const hadData = this.#data.length > 0;
    const event: SseEvent = { data: this.#data.join("\n") };
    if (this.#event !== undefined && this.#event !== "") event.event = this.#event;
    if (this.#id !== undefined) event.id = this.#id;
    if (this.#retry !== undefined) event.retry = this.#retry;
    this.#reset();
    return hadData ? event : undefined;
  }

  #reset(): void {
    this.#data = [];
    this.#event = undefined;
    this.#retry = undefined;
    this.#hasFields = false;
    // `id` persists across events per spec, but we only report it on the event that set it.
    this.#id = undefined;
  }
}

/**
 * Reads a `text/event-stream` body and yields its events as they complete. Stop iterating (break)
 * to cancel the body, which closes the upstream connection. A broken connection throws.
 */
export async function* readSseEvents(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<SseEvent, void, undefined> {
  const parser = new SseParser();
  const reader = body.getReader();
  let finished = false;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      yield* parser.push(value);
    }
    finished = true;
    yield* parser.end();
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** Serializes one event; multi-line data becomes several `data:` lines. */
export function serializeSseEvent(event: SseEvent): string {
  let out = "";
  if (event.event !== undefined) out += `event: ${singleLine(event.event)}\n`;
  if (event.id !== undefined) out += `id: ${singleLine(event.id)}\n`;
  if (event.retry !== undefined) out += `retry: ${Math.max(0, Math.floor(event.retry))}\n`;
  for (const line of event.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return out + "\n";
}

/** `data: <json>\n\n` — an OpenAI-style chunk. */
export function serializeSseData(payload: unknown): string {
  return serializeSseEvent({ data: JSON.stringify(payload) });
}

/** The terminator OpenAI-compatible clients wait for. */
export const SSE_DONE = "data: [DONE]\n\n";

export interface SseErrorBody {
  code: string;
  message: string;
  requestId?: string;
  details?: unknown;
}

/**
 * Our final in-stream error, in the envelope shape:
 * `event: error\ndata: {"error":{"code":"INSUFFICIENT_CREDITS","message":…,"requestId":…}}\n\n`.
 * The openai SDK (v4, streaming.js) throws `APIError` for an `event: error` whose data has an
 * `error` object (message = error.message, .code = error.code); the Python SDK does the same.
 * Send it instead of `data: [DONE]` and then close the stream.
 */
export function serializeSseError(error: SseErrorBody): string {
  const body: SseErrorBody = { code: error.code, message: error.message };
  if (error.requestId !== undefined) body.requestId = error.requestId;
  if (error.details !== undefined) body.details = error.details;
  return serializeSseEvent({ event: "error", data: JSON.stringify({ error: body }) });
}

function singleLine(value: string): string {
  return value.replace(/[\r\n]/g, " ");
}

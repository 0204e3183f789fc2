/**
 * Streamed chat completions (SSE), metered as they flow.
 *
 * The pump reads the upstream stream on its own, parses every event (zod), forwards it through a
 * DeliveryQueue and meters content deltas against the call's reservation. Exactly one of these
 * ends the call, and it settles right there (never waiting for the client):
 *
 *   completed     [DONE] (or the end of the stream after a finish_reason): charge the usage the
 *                 upstream reported (estimate if it sent none), then forward [DONE].
 *   hold used up  the next delta would cost more than the reservation: stop the upstream,
 *                 charge what was forwarded, end with `event: error` INSUFFICIENT_CREDITS.
 *   broken        connection lost, malformed chunk, idle or total time exceeded: charge what was
 *                 forwarded (nothing if no content was), end with `event: error` BAD_GATEWAY or
 *                 TIMEOUT; the rate-limit token goes back.
 *   client left   the body was cancelled: stop the upstream, charge what was handed to the
 *                 client connection (nothing if no content was).
 */
import {
  isDoneEvent,
  serializeSseError,
  SSE_DONE,
  SseParser,
  type UpstreamOk,
} from "../../_shared/upstream/mod.ts";
import type { PaidCall } from "../call.ts";
import { type ChatChunk, chatChunkSchema, parseJson, readWithin } from "../upstream_body.ts";
import { DeliveryQueue } from "./delivery.ts";
import type { StreamMeter } from "./meter.ts";

const encoder = new TextEncoder();

export interface ChatStreamOptions {
  call: PaidCall;
  upstream: UpstreamOk;
  meter: StreamMeter;
  /** The client asked for stream_options.include_usage (else the usage chunk is not forwarded). */
  includeUsage: boolean;
}

type End =
  | { kind: "completed"; usage: { prompt: number; completion: number } | null }
  | { kind: "cut" }
  | { kind: "broken"; code: "BAD_GATEWAY" | "UPSTREAM_MALFORMED" | "TIMEOUT" };

/** Starts the pump and returns the response body for the client. */
export function startChatStream(options: ChatStreamOptions): ReadableStream<Uint8Array> {
  const { call, upstream, meter } = options;
  const queue = new DeliveryQueue(() => {
    // The client went away: settle on what it received, then stop the upstream.
    const delivered = queue.delivered;
    void call.settle(
      delivered === 0 ? { status: "failed", errorCode: "CLIENT_CLOSED" } : {
        status: "partial",
        errorCode: "CLIENT_CLOSED",
        inputUnits: meter.promptTokens,
        outputUnits: delivered,
        usageSource: "estimated",
      },
    );
    upstream.abort(new DOMException("client closed", "AbortError"));
  });
  call.detachClient();
  void pump(options, queue);
  return queue.stream;
}

async function pump(options: ChatStreamOptions, queue: DeliveryQueue): Promise<void> {
  const { upstream } = options;
  let end: End;
  try {
    end = await forward(options, queue);
  } catch {
    end = { kind: "broken", code: "BAD_GATEWAY" };
  }
  if (queue.cancelled) return; // settled by the cancel callback
  await finish(options, queue, end);
  if (end.kind !== "completed") upstream.abort();
  if (end.kind === "broken") upstream.reportBodyFailure();
}

async function forward(options: ChatStreamOptions, queue: DeliveryQueue): Promise<End> {
  const { call, upstream, meter, includeUsage } = options;
  const body = upstream.response.body;
  if (!body) return { kind: "broken", code: "UPSTREAM_MALFORMED" };
  const reader = body.getReader();
  const parser = new SseParser();
  const deadline = performance.now() + call.deps.settings.streamMaxMs;
  let usage: { prompt: number; completion: number } | null = null;
  let finished = false;

  // Handles one event; returns an End to stop, or null to go on.
  const handle = (data: string): End | "done" | null => {
    const chunk: ChatChunk | null = parseJson(chatChunkSchema, data);
    if (!chunk) return { kind: "broken", code: "UPSTREAM_MALFORMED" };
    if (chunk.usage) {
      usage = { prompt: chunk.usage.prompt_tokens, completion: chunk.usage.completion_tokens };
    }
    let text = "";
    for (const choice of chunk.choices) {
      text += (choice.delta?.content ?? "") + (choice.delta?.refusal ?? "");
      if (choice.finish_reason) finished = true;
    }
    const usageOnly = chunk.choices.length === 0 && chunk.usage;
    if (usageOnly && !includeUsage) return null;
    const units = meter.admit(text);
    if (units === null) return { kind: "cut" };
    queue.push(encoder.encode(`data: ${data}\n\n`), units);
    return null;
  };

  try {
    while (true) {
      if (queue.cancelled) return { kind: "broken", code: "BAD_GATEWAY" };
      const left = deadline - performance.now();
      const next = await readWithin(reader, Math.min(call.deps.settings.streamIdleTimeoutMs, left));
      if (next === "timeout") return { kind: "broken", code: "TIMEOUT" };
      if (next.done) break;
      for (const event of parser.push(next.value)) {
        if (isDoneEvent(event)) return { kind: "completed", usage };
        const stop = handle(event.data);
        if (stop) return stop as End;
      }
    }
    for (const event of parser.end()) {
      if (isDoneEvent(event)) return { kind: "completed", usage };
      const stop = handle(event.data);
      if (stop) return stop as End;
    }
    // A clean end without [DONE] still counts as complete when the model said it finished.
    return finished ? { kind: "completed", usage } : { kind: "broken", code: "BAD_GATEWAY" };
  } finally {
    reader.cancel().catch(() => {});
  }
}

async function finish(options: ChatStreamOptions, queue: DeliveryQueue, end: End): Promise<void> {
  const { call, meter } = options;
  if (end.kind === "completed") {
    await call.settle({
      status: "succeeded",
      inputUnits: end.usage?.prompt ?? meter.promptTokens,
      outputUnits: end.usage?.completion ?? meter.tokens,
      usageSource: end.usage ? "upstream" : "estimated",
      response: { status: 200, body: { v: 1, headers: {}, notReplayable: "streamed" } },
    });
    queue.push(encoder.encode(SSE_DONE));
    queue.end();
    return;
  }
  const delivered = meter.tokens;
  const code = end.kind === "cut" ? "INSUFFICIENT_CREDITS" : end.code;
  await call.settle(
    delivered === 0
      ? { status: "failed", errorCode: code, upstreamFailed: end.kind === "broken" }
      : {
        status: "partial",
        errorCode: code,
        inputUnits: meter.promptTokens,
        outputUnits: delivered,
        usageSource: "estimated",
        upstreamFailed: end.kind === "broken",
        response: { status: 200, body: { v: 1, headers: {}, notReplayable: "streamed" } },
      },
  );
  queue.push(encoder.encode(serializeSseError(streamError(end, call.requestId))));
  queue.end();
}

function streamError(end: End, requestId: string) {
  if (end.kind === "cut") {
    return {
      code: "INSUFFICIENT_CREDITS",
      message: "The job's hold is used up; the answer was cut here. Extend the job to continue.",
      requestId,
    };
  }
  if (end.kind === "broken" && end.code === "TIMEOUT") {
    return { code: "TIMEOUT", message: "The AI provider stopped sending", requestId };
  }
  return { code: "BAD_GATEWAY", message: "The AI provider's stream broke off", requestId };
}

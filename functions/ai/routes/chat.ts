/**
 * POST /ai/v1/chat/completions — OpenAI-compatible, JSON or SSE (`stream: true`).
 *
 * Reservation: the maximum cost (prompt upper bound + max tokens) — for a job-paid stream
 * min(maximum, the job's remaining hold), then metered. Settled to the upstream's `usage`
 * (always requested for streams via stream_options.include_usage), never above the reservation.
 */
import type { Hono } from "hono";
import type { AuthEnv } from "../../_shared/auth/middleware/index.ts";
import { storedJson } from "../../_shared/idempotency/stored.ts";
import { validate } from "../../_shared/http/validate/index.ts";
import type { UpstreamOk } from "../../_shared/upstream/mod.ts";
import { type PaidCall, paidCall } from "../call.ts";
import type { AiDeps } from "../deps.ts";
import { estimateTokens, promptTokenBound } from "../pricing.ts";
import { type ChatBody, chatBody, messageText, promptChars } from "../schemas.ts";
import { startChatStream } from "../stream/chat_stream.ts";
import { StreamMeter } from "../stream/meter.ts";
import { chatCompletionSchema, parseJson, readUpstreamText } from "../upstream_body.ts";

/** Largest non-streamed completion we read (bytes). */
const MAX_COMPLETION_BYTES = 4 * 1024 * 1024;
/** Largest answer stored for an Idempotency-Key replay (bytes). */
export const MAX_REPLAY_BYTES = 256 * 1024;

export function registerChat(app: Hono<AuthEnv>, deps: AiDeps): void {
  app.post("/v1/chat/completions", validate("json", chatBody), async (c) => {
    const body = c.req.valid("json") as ChatBody;
    const streamed = body.stream === true;
    const requested = body.max_completion_tokens ?? body.max_tokens ?? null;
    return await paidCall(c, deps, {
      kind: "chat",
      model: body.model,
      streamed,
      inputUnits: promptTokenBound(body.messages.map(messageText)),
      outputUnits: requested,
      run: async (call) => {
        const upstream = await deps.upstream.post(
          "chat/completions",
          JSON.stringify(upstreamBody(body, call.maxOutputUnits ?? requested ?? undefined)),
          { signal: call.signal, accept: streamed ? "text/event-stream" : "application/json" },
        );
        call.noteUpstream(upstream);
        if (!upstream.ok) return await call.failBeforeResponse(upstream.error);
        const promptEstimate = estimateTokens(promptChars(body.messages));
        if (!streamed) return await completeJson(call, upstream, promptEstimate);

        const type = upstream.response.headers.get("content-type") ?? "";
        if (!/^text\/event-stream/i.test(type)) {
          upstream.abort();
          upstream.reportBodyFailure();
          return await call.failMalformed("UPSTREAM_MALFORMED");
        }
        const meter = new StreamMeter(call.prices, call.reserved, promptEstimate);
        const stream = startChatStream({
          call,
          upstream,
          meter,
          includeUsage: body.stream_options?.include_usage === true,
        });
        return c.body(stream, 200, {
          "Content-Type": "text/event-stream; charset=utf-8",
          "Cache-Control": "no-store",
          "X-Accel-Buffering": "no",
        });
      },
    });
  });
}

/** The upstream request: validated fields only, our max tokens, usage always on for streams. */
export function upstreamBody(
  body: ChatBody,
  maxTokens: number | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    model: body.model,
    messages: body.messages,
  };
  const optional = [
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "stop",
    "seed",
    "response_format",
  ] as const;
  for (const name of optional) {
    if (body[name] !== undefined && body[name] !== null) out[name] = body[name];
  }
  if (maxTokens !== undefined) {
    if (body.max_completion_tokens != null) out.max_completion_tokens = maxTokens;
    else out.max_tokens = maxTokens;
  }
  if (body.stream === true) {
    out.stream = true;
    out.stream_options = { include_usage: true };
  }
  return out;
}

async function completeJson(
  call: PaidCall,
  upstream: UpstreamOk,
  promptEstimate: number,
): Promise<Response> {
  const read = await readUpstreamText(upstream, {
    idleMs: call.deps.settings.streamIdleTimeoutMs,
    maxBytes: MAX_COMPLETION_BYTES,
  });
  if (!read.ok) {
    upstream.reportBodyFailure();
    return await call.failMalformed(read.reason === "timeout" ? "TIMEOUT" : "BAD_GATEWAY");
  }
  const completion = parseJson(chatCompletionSchema, read.text);
  if (!completion) {
    upstream.reportBodyFailure();
    return await call.failMalformed("UPSTREAM_MALFORMED");
  }
  const usage = completion.usage ?? null;
  const contentChars = completion.choices.reduce(
    (n, ch) => n + (ch.message.content?.length ?? 0),
    0,
  );
  await call.settle({
    status: "succeeded",
    inputUnits: usage?.prompt_tokens ?? promptEstimate,
    outputUnits: usage?.completion_tokens ?? estimateTokens(contentChars),
    usageSource: usage ? "upstream" : "estimated",
    response: {
      status: 200,
      body: read.text.length <= MAX_REPLAY_BYTES
        ? storedJson(completion)
        : { v: 1, headers: { "content-type": "application/json" }, notReplayable: "too_large" },
    },
  });
  return call.c.body(read.text, 200, { "Content-Type": "application/json" });
}

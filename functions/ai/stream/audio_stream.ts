/**
 * Speech: the upstream's audio bytes streamed through unchanged. Speech is priced by input
 * characters, all of which the provider consumed once audio flows, and there is no partial unit,
 * so the rule is all-or-nothing (documented in readme-ai):
 *
 *   completed     the audio ended normally: charged in full.
 *   broken        the provider failed mid-audio (connection lost, idle or total time exceeded):
 *                 refunded in full, the transfer is aborted (the client sees a broken download,
 *                 never a silently truncated file); the rate-limit token goes back.
 *   client left   after at least one audio byte was handed to the client: charged in full (the
 *                 client chose to stop; a truncated file would otherwise be free); before that:
 *                 refunded in full.
 */
import type { UpstreamOk } from "../../_shared/upstream/mod.ts";
import type { PaidCall } from "../call.ts";
import { readWithin } from "../upstream_body.ts";
import { DeliveryQueue } from "./delivery.ts";

export function startAudioStream(
  call: PaidCall,
  upstream: UpstreamOk,
  characters: number,
): ReadableStream<Uint8Array> {
  const queue = new DeliveryQueue(() => {
    void call.settle(
      queue.deliveredBytes === 0 ? { status: "failed", errorCode: "CLIENT_CLOSED" } : {
        status: "partial",
        errorCode: "CLIENT_CLOSED",
        inputUnits: characters,
        outputUnits: 0,
        usageSource: "estimated",
      },
    );
    upstream.abort(new DOMException("client closed", "AbortError"));
  });
  call.detachClient();
  void pump(call, upstream, queue, characters);
  return queue.stream;
}

async function pump(
  call: PaidCall,
  upstream: UpstreamOk,
  queue: DeliveryQueue,
  characters: number,
): Promise<void> {
  const body = upstream.response.body;
  let failure: "BAD_GATEWAY" | "TIMEOUT" | null = body ? null : "BAD_GATEWAY";
  if (body) {
    const reader = body.getReader();
    const deadline = performance.now() + call.deps.settings.streamMaxMs;
    try {
      while (!queue.cancelled) {
        const left = deadline - performance.now();
        const next = await readWithin(
          reader,
          Math.min(call.deps.settings.streamIdleTimeoutMs, left),
        );
        if (next === "timeout") {
          failure = "TIMEOUT";
          break;
        }
        if (next.done) break;
        queue.push(next.value, next.value.byteLength);
      }
    } catch {
      failure = "BAD_GATEWAY";
    } finally {
      reader.cancel().catch(() => {});
    }
  }
  if (queue.cancelled) return; // settled by the cancel callback
  if (failure) {
    upstream.abort();
    upstream.reportBodyFailure();
    await call.settle({ status: "failed", errorCode: failure, upstreamFailed: true });
    queue.fail(new Error(`upstream audio ${failure === "TIMEOUT" ? "timed out" : "broke off"}`));
    return;
  }
  await call.settle({
    status: "succeeded",
    inputUnits: characters,
    outputUnits: 0,
    usageSource: "upstream",
    response: { status: 200, body: { v: 1, headers: {}, notReplayable: "streamed" } },
  });
  queue.end();
}

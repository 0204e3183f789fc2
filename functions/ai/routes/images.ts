/**
 * POST /ai/v1/images/generations — JSON in, JSON out. Price: per request + n × the price of the
 * (model, size, quality); size and quality default to the model's and are always sent upstream.
 * Charged for the images actually returned (never more than reserved).
 */
import type { Hono } from "hono";
import type { AuthEnv } from "../../_shared/auth/middleware/index.ts";
import { storedJson } from "../../_shared/idempotency/stored.ts";
import { validate } from "../../_shared/http/validate/index.ts";
import { paidCall } from "../call.ts";
import type { AiDeps } from "../deps.ts";
import { type ImagesBody, imagesBody } from "../schemas.ts";
import { imagesResponseSchema, parseJson, readUpstreamText } from "../upstream_body.ts";
import { MAX_REPLAY_BYTES } from "./chat.ts";

/** Four large base64 images fit comfortably. */
const MAX_IMAGES_BYTES = 48 * 1024 * 1024;

export function registerImages(app: Hono<AuthEnv>, deps: AiDeps): void {
  app.post("/v1/images/generations", validate("json", imagesBody), async (c) => {
    const body = c.req.valid("json") as ImagesBody;
    const n = body.n ?? 1;
    return await paidCall(c, deps, {
      kind: "images",
      model: body.model,
      streamed: false,
      inputUnits: 0,
      outputUnits: n,
      size: body.size,
      quality: body.quality,
      run: async (call) => {
        const upstream = await deps.upstream.post(
          "images/generations",
          JSON.stringify({
            model: body.model,
            prompt: body.prompt,
            n,
            size: call.size,
            quality: call.quality,
            ...(body.response_format ? { response_format: body.response_format } : {}),
            ...(body.style ? { style: body.style } : {}),
          }),
          { signal: call.signal },
        );
        call.noteUpstream(upstream);
        if (!upstream.ok) return await call.failBeforeResponse(upstream.error);
        const read = await readUpstreamText(upstream, {
          idleMs: deps.settings.streamIdleTimeoutMs,
          maxBytes: MAX_IMAGES_BYTES,
        });
        if (!read.ok) {
          upstream.reportBodyFailure();
          return await call.failMalformed(read.reason === "timeout" ? "TIMEOUT" : "BAD_GATEWAY");
        }
        const answer = parseJson(imagesResponseSchema, read.text);
        if (!answer) {
          upstream.reportBodyFailure();
          return await call.failMalformed("UPSTREAM_MALFORMED");
        }
        await call.settle({
          status: "succeeded",
          inputUnits: 0,
          outputUnits: Math.min(answer.data.length, n),
          usageSource: "upstream",
          response: {
            status: 200,
            body: read.text.length <= MAX_REPLAY_BYTES ? storedJson(answer) : {
              v: 1,
              headers: { "content-type": "application/json" },
              notReplayable: "too_large",
            },
          },
        });
        return c.body(read.text, 200, { "Content-Type": "application/json" });
      },
    });
  });
}

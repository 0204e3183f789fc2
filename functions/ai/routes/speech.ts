/**
 * POST /ai/v1/audio/speech — the provider's audio streamed through with its content type.
 * Price: per request + per 1K input characters (all-or-nothing, see stream/audio_stream.ts).
 */
import type { Hono } from "hono";
import type { AuthEnv } from "../../_shared/auth/middleware/index.ts";
import { validate } from "../../_shared/http/validate/index.ts";
import { paidCall } from "../call.ts";
import type { AiDeps } from "../deps.ts";
import { type SpeechBody, speechBody } from "../schemas.ts";
import { startAudioStream } from "../stream/audio_stream.ts";

/** Audio content types passed on to the client; anything else from upstream is malformed. */
const AUDIO_TYPE = /^(audio\/[a-z0-9.+-]+|application\/octet-stream)(;.*)?$/i;

export function registerSpeech(app: Hono<AuthEnv>, deps: AiDeps): void {
  app.post("/v1/audio/speech", validate("json", speechBody), async (c) => {
    const body = c.req.valid("json") as SpeechBody;
    const characters = body.input.length;
    return await paidCall(c, deps, {
      kind: "speech",
      model: body.model,
      streamed: true,
      inputUnits: characters,
      outputUnits: 0,
      voice: body.voice,
      run: async (call) => {
        const upstream = await deps.upstream.post(
          "audio/speech",
          JSON.stringify({
            model: body.model,
            input: body.input,
            voice: body.voice,
            ...(body.response_format ? { response_format: body.response_format } : {}),
            ...(body.speed !== undefined ? { speed: body.speed } : {}),
          }),
          { signal: call.signal, accept: "*/*" },
        );
        call.noteUpstream(upstream);
        if (!upstream.ok) return await call.failBeforeResponse(upstream.error);
        const type = upstream.response.headers.get("content-type") ?? "";
        if (!AUDIO_TYPE.test(type)) {
          upstream.abort();
          upstream.reportBodyFailure();
          return await call.failMalformed("UPSTREAM_MALFORMED");
        }
        const stream = startAudioStream(call, upstream, characters);
        return c.body(stream, 200, { "Content-Type": type });
      },
    });
  });
}

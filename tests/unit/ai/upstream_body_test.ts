import assert from "node:assert/strict";
import type { UpstreamOk } from "../../../functions/_shared/upstream/mod.ts";
import {
  chatChunkSchema,
  chatCompletionSchema,
  imagesResponseSchema,
  parseJson,
  readUpstreamText,
} from "../../../functions/ai/upstream_body.ts";

function upstreamOf(body: ReadableStream<Uint8Array>): UpstreamOk & { aborted: boolean } {
  const result = {
    ok: true as const,
    response: new Response(body),
    attempts: 1,
    latencyMs: 1,
    aborted: false,
    abort() {
      result.aborted = true;
      body.cancel().catch(() => {});
    },
    reportBodyFailure() {},
  };
  return result;
}

function streamOf(parts: string[], gapMs = 0, hang = false): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    async pull(c) {
      if (i < parts.length) {
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
        c.enqueue(new TextEncoder().encode(parts[i++]));
      } else if (!hang) c.close();
      else await new Promise(() => {});
    },
  });
}

Deno.test("readUpstreamText reads a body in pieces", async () => {
  const read = await readUpstreamText(upstreamOf(streamOf(['{"a":', "1}"])), {
    idleMs: 500,
    maxBytes: 100,
  });
  assert.deepEqual(read, { ok: true, text: '{"a":1}' });
});

Deno.test("readUpstreamText stops at the size cap and at silence", async () => {
  const big = upstreamOf(streamOf(["x".repeat(60), "y".repeat(60)]));
  assert.deepEqual(await readUpstreamText(big, { idleMs: 500, maxBytes: 100 }), {
    ok: false,
    reason: "too_large",
  });
  assert.equal(big.aborted, true);
  const silent = upstreamOf(streamOf(["{"], 0, true));
  assert.deepEqual(await readUpstreamText(silent, { idleMs: 30, maxBytes: 100 }), {
    ok: false,
    reason: "timeout",
  });
  assert.equal(silent.aborted, true);
});

Deno.test("readUpstreamText reports a broken body", async () => {
  const broken = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode("{"));
      c.error(new TypeError("connection reset"));
    },
  });
  assert.deepEqual(await readUpstreamText(upstreamOf(broken), { idleMs: 100, maxBytes: 100 }), {
    ok: false,
    reason: "broken",
  });
});

Deno.test("upstream answers are parsed defensively", () => {
  assert.equal(parseJson(chatCompletionSchema, '{"choices":[{"message":'), null);
  assert.equal(parseJson(chatCompletionSchema, '{"choices":[]}'), null);
  assert.equal(
    parseJson(
      chatCompletionSchema,
      '{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":-1,"completion_tokens":1}}',
    ),
    null,
  );
  const ok = parseJson(
    chatCompletionSchema,
    '{"id":"x","choices":[{"message":{"content":"hi","refusal":null}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}',
  );
  assert.equal(ok?.usage?.completion_tokens, 2);
  assert.equal((ok as Record<string, unknown>).id, "x", "other fields pass through");
  assert.equal(parseJson(chatChunkSchema, '{"choices":[],"usage":null}')?.choices.length, 0);
  assert.equal(parseJson(chatChunkSchema, '{"choices":{}}'), null);
  assert.equal(parseJson(imagesResponseSchema, '{"data":[{}]}'), null);
  assert.equal(parseJson(imagesResponseSchema, '{"data":[{"url":"u"}]}')?.data.length, 1);
});

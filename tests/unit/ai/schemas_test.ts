import assert from "node:assert/strict";
import { upstreamBody } from "../../../functions/ai/routes/chat.ts";
import {
  chatBody,
  imagesBody,
  LIMITS,
  promptChars,
  speechBody,
} from "../../../functions/ai/schemas.ts";

const ok = { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] };

function fieldsOf(
  result: { success: boolean; error?: { issues: { path: (string | number)[] }[] } },
) {
  assert.equal(result.success, false);
  return result.error!.issues.map((i) => i.path.join("."));
}

Deno.test("chat: accepted fields, and unknown ones refused", () => {
  assert.equal(chatBody.safeParse(ok).success, true);
  assert.equal(
    chatBody.safeParse({
      ...ok,
      messages: [{ role: "system", content: [{ type: "text", text: "be brief" }] }, ok.messages[0]],
      max_completion_tokens: 10,
      temperature: 0.5,
      top_p: 1,
      stop: ["\n"],
      seed: 7,
      n: 1,
      response_format: { type: "json_object" },
      stream: true,
      stream_options: { include_usage: true },
    }).success,
    true,
  );
  for (const extra of [{ tools: [] }, { logprobs: true }, { user: "u" }, { n: 2 }]) {
    assert.equal(chatBody.safeParse({ ...ok, ...extra }).success, false, JSON.stringify(extra));
  }
  assert.equal(
    chatBody.safeParse({ ...ok, messages: [{ role: "user", content: [{ type: "image_url" }] }] })
      .success,
    false,
    "text content only",
  );
});

Deno.test("chat: bounds on messages and tokens", () => {
  assert.deepEqual(fieldsOf(chatBody.safeParse({ ...ok, messages: [] })), ["messages"]);
  const many = Array(LIMITS.maxMessages + 1).fill(ok.messages[0]);
  assert.deepEqual(fieldsOf(chatBody.safeParse({ ...ok, messages: many })), ["messages"]);
  const big = Array(5).fill({ role: "user", content: "x".repeat(30_000) });
  assert.deepEqual(fieldsOf(chatBody.safeParse({ ...ok, messages: big })), ["messages"]);
  assert.deepEqual(
    fieldsOf(chatBody.safeParse({ ...ok, max_tokens: 5, max_completion_tokens: 5 })),
    ["max_completion_tokens"],
  );
  assert.deepEqual(
    fieldsOf(chatBody.safeParse({ ...ok, stream_options: { include_usage: true } })),
    ["stream_options"],
  );
  assert.equal(promptChars([{ role: "user", content: [{ type: "text", text: "abc" }] }]), 3);
});

Deno.test("chat: the upstream body has validated fields only, our max tokens and usage on", () => {
  const body = chatBody.parse({ ...ok, temperature: 0.3, stream: true, max_completion_tokens: 9 });
  assert.deepEqual(upstreamBody(body, 9), {
    model: "gpt-4o-mini",
    messages: ok.messages,
    temperature: 0.3,
    max_completion_tokens: 9,
    stream: true,
    stream_options: { include_usage: true },
  });
  assert.deepEqual(upstreamBody(chatBody.parse(ok), 4096), { ...ok, max_tokens: 4096 });
});

Deno.test("speech and images: bounds", () => {
  const speech = { model: "tts-1", voice: "alloy", input: "hello" };
  assert.equal(speechBody.safeParse(speech).success, true);
  assert.deepEqual(fieldsOf(speechBody.safeParse({ ...speech, input: "x".repeat(4097) })), [
    "input",
  ]);
  assert.deepEqual(fieldsOf(speechBody.safeParse({ ...speech, speed: 5 })), ["speed"]);
  assert.deepEqual(fieldsOf(speechBody.safeParse({ ...speech, instructions: "x" })), [""]);
  const image = { model: "dall-e-3", prompt: "a fox" };
  assert.equal(
    imagesBody.safeParse({ ...image, n: 4, size: "1024x1792", quality: "hd" }).success,
    true,
  );
  assert.deepEqual(fieldsOf(imagesBody.safeParse({ ...image, size: "5000x5000" })), ["size"]);
  assert.deepEqual(fieldsOf(imagesBody.safeParse({ ...image, n: 5 })), ["n"]);
  assert.deepEqual(fieldsOf(imagesBody.safeParse({ ...image, prompt: "" })), ["prompt"]);
});

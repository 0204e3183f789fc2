/**
 * The ai function through the shared local gateway, driven by the official `openai` SDK as an
 * app would use it: chat (JSON and SSE), speech, images and models — paid by job and one-shot —
 * with the balance, the job and the generation record checked in SQL after every call.
 *
 * Prices: each test creates its own model (the fake upstream answers any model id) with simple
 * prices, so every expected charge can be computed by hand:
 *   chat  2 per request + 1 per prompt token + 2 per completion token, max_tokens cap 50.
 *   The fake: prompt_tokens = ceil(characters / 4); completion_tokens = the words it sends.
 *   Reservation: 2 + (UTF-8 bytes + 4 per message + 3) + 2 × max tokens.
 */
import assert from "node:assert/strict";
import { APIError } from "openai";
import { FAKE_PNG_BASE64, fakeCompletionText, fakeSpeechBytes } from "../fakes/openai_upstream.ts";
import {
  balanceOf,
  chatModel,
  fakeTokens,
  fundedUser,
  generationsOf,
  imageModel,
  jobOf,
  sdk,
  speechModel,
  startJob,
} from "./ai_helpers.ts";
import { withAdmin } from "../support/db.ts";

const PRICE = { perRequest: 2, per1kInput: 1000, per1kOutput: 2000, maxTokens: 50 };
const model = await chatModel("sdk", PRICE);

/** 2 + prompt + 2·completion */
const chatCost = (prompt: string, words: number) => 2 + fakeTokens(prompt) + 2 * words;
/** 2 + upper bound of the prompt + 2·max tokens */
const chatReserve = (prompt: string, maxTokens = PRICE.maxTokens) =>
  2 + new TextEncoder().encode(prompt).length + 4 + 3 + 2 * maxTokens;

Deno.test("ai sdk: non-streamed chat paid one-shot charges the usage and returns the rest", async () => {
  const user = await fundedUser(1000);
  const prompt = "Say hello WORDS:5";
  const completion = await sdk(user).chat.completions.create({
    model,
    messages: [{ role: "user", content: prompt }],
  });
  assert.equal(completion.choices[0].message.content, fakeCompletionText(5));
  assert.equal(completion.usage?.completion_tokens, 5);
  const cost = chatCost(prompt, 5);
  assert.deepEqual(await balanceOf(user), {
    balance: 1000 - cost,
    held: 0,
    available: 1000 - cost,
  });
  const [gen] = await generationsOf(user);
  assert.equal(gen.status, "succeeded");
  assert.equal(gen.credits_reserved, chatReserve(prompt));
  assert.equal(gen.credits_charged, cost);
  assert.equal(gen.usage_source, "upstream");
  assert.equal(gen.job_id, null);
  const ledger = await withAdmin((sql) =>
    sql<{ kind: string; delta: string }[]>`
      select kind, delta from credits.ledger where account_id = ${user.id}::uuid and kind in ('charge', 'refund') order by seq`
  );
  assert.deepEqual(ledger.map((l) => [l.kind, Number(l.delta)]), [
    ["charge", -chatReserve(prompt)],
    ["refund", chatReserve(prompt) - cost],
  ]);
});

Deno.test("ai sdk: non-streamed chat paid by job spends from the hold only", async () => {
  const user = await fundedUser(1000);
  const job = await startJob(user, 400);
  const prompt = "Tell me WORDS:7";
  const completion = await sdk(user, { job }).chat.completions.create({
    model,
    messages: [{ role: "system", content: "be brief" }, { role: "user", content: prompt }],
    max_tokens: 20,
    temperature: 0.2,
  });
  assert.equal(completion.choices[0].message.content, fakeCompletionText(7));
  const cost = 2 + fakeTokens("be brief", prompt) + 2 * 7;
  assert.deepEqual(await jobOf(job), { amount: 400, spent: cost, status: "pending" });
  assert.deepEqual(await balanceOf(user), { balance: 1000, held: 400, available: 600 });
  const [gen] = await generationsOf(user);
  assert.equal(gen.job_id, job.jobId);
  assert.equal(gen.credits_charged, cost);
  // max_tokens 20 bounds the reservation: 2 + bytes + 4·2 + 3 + 2·20.
  assert.equal(gen.credits_reserved, 2 + "be brief".length + prompt.length + 8 + 3 + 40);
});

Deno.test("ai sdk: a job funds several calls (chat, speech, image) of one lesson", async () => {
  const user = await fundedUser(1000);
  const job = await startJob(user, 300);
  const client = sdk(user, { job });
  const voiceModel = await speechModel("lesson-voice", 1, 500);
  const pictureModel = await imageModel("lesson-picture", 20);

  await client.chat.completions.create({ model, messages: [{ role: "user", content: "WORDS:3" }] });
  const input = "Read this aloud BYTES:4000";
  const audio = await client.audio.speech.create({ model: voiceModel, voice: "nova", input });
  assert.equal(audio.headers.get("content-type"), "audio/mpeg");
  assert.deepEqual(new Uint8Array(await audio.arrayBuffer()), fakeSpeechBytes(4000));
  const image = await client.images.generate({ model: pictureModel, prompt: "a fox", n: 2 });
  assert.equal(image.data?.length, 2);

  const spent = chatCost("WORDS:3", 3) + Math.ceil(1 + input.length * 0.5) + 2 * 20;
  assert.deepEqual(await jobOf(job), { amount: 300, spent, status: "pending" });
  const gens = await generationsOf(user);
  assert.deepEqual(gens.map((g) => [g.kind, g.status]), [
    ["chat", "succeeded"],
    ["speech", "succeeded"],
    ["images", "succeeded"],
  ]);
});

Deno.test("ai sdk: streamed chat by job forwards every chunk and settles to the usage", async () => {
  const user = await fundedUser(1000);
  const job = await startJob(user, 400);
  const prompt = "Stream WORDS:12";
  const stream = await sdk(user, { job }).chat.completions.create({
    model,
    messages: [{ role: "user", content: prompt }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "";
  let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, fakeCompletionText(12));
  assert.equal(usage?.completion_tokens, 12, "the usage chunk is forwarded when asked for");
  const cost = chatCost(prompt, 12);
  assert.equal((await jobOf(job)).spent, cost);
  const [gen] = await generationsOf(user);
  assert.equal(gen.status, "succeeded");
  assert.equal(gen.streamed, true);
  assert.equal(gen.credits_charged, cost);
  assert.equal(gen.output_units, 12);
});

Deno.test("ai sdk: streamed chat one-shot without include_usage gets no usage chunk", async () => {
  const user = await fundedUser(500);
  const stream = await sdk(user).chat.completions.create({
    model,
    messages: [{ role: "user", content: "WORDS:4" }],
    stream: true,
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.ok(chunks.every((c) => c.choices.length > 0), "no usage-only chunk");
  assert.equal(chunks.map((c) => c.choices[0].delta.content ?? "").join(""), fakeCompletionText(4));
  assert.equal((await balanceOf(user)).balance, 500 - chatCost("WORDS:4", 4));
});

Deno.test("ai sdk: a stream stops at the job's hold with INSUFFICIENT_CREDITS (hard cap)", async () => {
  const user = await fundedUser(1000);
  // 25 credits: reserve min(max 120, 25); the meter admits t tokens while 2 + 3 + 2t ≤ 25.
  const job = await startJob(user, 25);
  const prompt = "go WORDS:50";
  const stream = await sdk(user, { job }).chat.completions.create({
    model,
    messages: [{ role: "user", content: prompt }],
    stream: true,
  });
  let text = "";
  const err = await (async () => {
    try {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    } catch (e) {
      return e;
    }
  })();
  assert.ok(err instanceof APIError, "the stream ends with an error event");
  assert.equal((err as APIError).code, "INSUFFICIENT_CREDITS");
  assert.equal(text, fakeCompletionText(10));
  assert.deepEqual(await jobOf(job), { amount: 25, spent: 25, status: "pending" });
  const [gen] = await generationsOf(user);
  assert.equal(gen.status, "partial");
  assert.equal(gen.error_code, "INSUFFICIENT_CREDITS");
  assert.equal(gen.output_units, 10);
  assert.equal(gen.credits_charged, 25);
});

Deno.test("ai sdk: speech one-shot streams the audio with the upstream content type", async () => {
  const user = await fundedUser(100);
  const voice = await speechModel("voice", 1, 250);
  const input = "Bonjour BYTES:70000";
  const res = await sdk(user).audio.speech.create({
    model: voice,
    voice: "alloy",
    input,
    response_format: "wav",
  });
  assert.equal(res.headers.get("content-type"), "audio/wav");
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), fakeSpeechBytes(70000));
  const cost = Math.ceil(1 + input.length * 0.25);
  assert.equal((await balanceOf(user)).balance, 100 - cost);
  const [gen] = await generationsOf(user);
  assert.deepEqual([gen.kind, gen.status, gen.input_units, gen.credits_charged], [
    "speech",
    "succeeded",
    input.length,
    cost,
  ]);
});

Deno.test("ai sdk: images one-shot charges per returned image", async () => {
  const user = await fundedUser(200);
  const picture = await imageModel("picture", 30);
  const res = await sdk(user).images.generate({
    model: picture,
    prompt: "a red fox",
    n: 3,
    size: "1024x1792",
    response_format: "b64_json",
  });
  assert.equal(res.data?.length, 3);
  assert.equal(res.data?.[0].b64_json, FAKE_PNG_BASE64);
  assert.equal((await balanceOf(user)).balance, 200 - 3 * 60);
});

Deno.test("ai sdk: models.list shows the allowed models with their prices", async () => {
  const user = await fundedUser(0);
  const ids: string[] = [];
  let entry: Record<string, unknown> | undefined;
  for await (const m of sdk(user).models.list()) {
    ids.push(m.id);
    if (m.id === "gpt-4o-mini") entry = m as unknown as Record<string, unknown>;
  }
  for (const id of ["gpt-4o-mini", "tts-1", "dall-e-3", model]) assert.ok(ids.includes(id), id);
  assert.deepEqual(entry?.tollgate, {
    kind: "chat",
    creditsPerRequest: 1,
    creditsPer1kInputTokens: 0.3,
    creditsPer1kOutputTokens: 1.2,
    maxTokens: 4096,
  });
  const one = await sdk(user).models.retrieve("dall-e-3");
  assert.equal((one as unknown as { tollgate: { maxImages: number } }).tollgate.maxImages, 1);
});

/**
 * Every upstream fault mode, end to end through a gateway, with the balance afterwards exactly
 * what the charging rules (notes/readme-ai.md) say — plus retries without double charges, the
 * circuit breaker (opens, fails fast, recovers), a client that disconnects mid-stream, the
 * rate-limit token given back, and what reaches the upstream (asserted at the fake).
 *
 * These run against a private gateway process with short timeouts (600 ms first byte, 800 ms
 * stream idle) and a fast breaker (5 failures, 400 ms cool-down), in front of an in-process fake,
 * so the shared stack's breaker never opens for other suites. Each fault that counts as a
 * provider failure is followed by a healthy call, keeping the breaker's failure run short.
 *
 * Chat prices (own model): 2 per request + 1 per prompt token + 2 per completion token.
 */
import assert from "node:assert/strict";
import { APIError } from "openai";
import { fakeCompletionText } from "../fakes/openai_upstream.ts";
import {
  balanceOf,
  chatModel,
  fakeTokens,
  fundedUser,
  generationsOf,
  imageModel,
  jobOf,
  post,
  sdk,
  setFakeMode,
  settled,
  speechModel,
  startJob,
  startTunedStack,
  type User,
} from "./ai_helpers.ts";

const stack = await startTunedStack();
globalThis.addEventListener("unload", () => void stack.close());
const gateway = stack.gateway;
const model = await chatModel("faults", {
  perRequest: 2,
  per1kInput: 1000,
  per1kOutput: 2000,
  maxTokens: 50,
});
const chatCost = (prompt: string, words: number) => 2 + fakeTokens(prompt) + 2 * words;

/** In-process fake server + gateway child span tests: no per-test op/resource sanitizing. */
function faultTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: `ai faults: ${name}`, sanitizeOps: false, sanitizeResources: false, fn });
}

/** A healthy call resets the breaker's run of consecutive failures. */
async function healthy(): Promise<void> {
  const user = await fundedUser(200);
  const res = await post(user, "/chat/completions", {
    model,
    messages: [{ role: "user", content: "WORDS:1" }],
  }, { gateway });
  assert.equal(res.res.status, 200, res.text);
}

async function chatStatus(user: User, content: string, extra: Record<string, unknown> = {}) {
  return await post(user, "/chat/completions", {
    model,
    messages: [{ role: "user", content }],
    ...extra,
  }, { gateway });
}

faultTest(
  "upstream 500 → 502 after retries, everything refunded, rate-limit token back",
  async () => {
    const user = await fundedUser(300);
    const first = await chatStatus(user, "WORDS:2");
    const before = first.res.headers.get("ratelimit");
    assert.match(before ?? "", /"chat";r=59;/);
    const res = await chatStatus(user, "FAULT:500");
    assert.equal(res.res.status, 502);
    assert.equal((res.json?.error as { code: string }).code, "BAD_GATEWAY");
    const third = await chatStatus(user, "WORDS:2");
    assert.match(
      third.res.headers.get("ratelimit") ?? "",
      /"chat";r=58;/,
      "the failed call's token came back",
    );
    assert.equal((await balanceOf(user)).balance, 300 - 2 * chatCost("WORDS:2", 2));
    const gens = await generationsOf(user);
    assert.deepEqual([
      gens[1].status,
      gens[1].error_code,
      gens[1].credits_charged,
      gens[1].attempts,
    ], [
      "failed",
      "BAD_GATEWAY",
      0,
      3,
    ]);
  },
);

faultTest("upstream 429 with Retry-After → 502 after retries, refunded", async () => {
  const user = await fundedUser(300);
  const job = await startJob(user, 200);
  const res = await post(user, "/chat/completions", {
    model,
    messages: [{ role: "user", content: "FAULT:429:0" }],
  }, { gateway, job });
  assert.equal(res.res.status, 502);
  assert.deepEqual(await jobOf(job), { amount: 200, spent: 0, status: "pending" });
  const [gen] = await generationsOf(user);
  assert.deepEqual([gen.status, gen.upstream_status, gen.attempts], ["failed", 429, 3]);
  await healthy();
});

faultTest("upstream hangs → 504 TIMEOUT (no retry of a timed-out call), refunded", async () => {
  const user = await fundedUser(300);
  const started = Date.now();
  const res = await chatStatus(user, "FAULT:hang");
  assert.equal(res.res.status, 504);
  assert.equal((res.json?.error as { code: string }).code, "TIMEOUT");
  assert.ok(Date.now() - started < 3_000);
  assert.equal((await balanceOf(user)).balance, 300);
  const [gen] = await generationsOf(user);
  assert.deepEqual([gen.status, gen.error_code, gen.attempts], ["failed", "TIMEOUT", 1]);
  await healthy();
});

faultTest(
  "slow first byte within the timeout succeeds and is charged; beyond it is 504",
  async () => {
    const user = await fundedUser(300);
    const ok = await chatStatus(user, "FAULT:slow_first_byte:200 WORDS:3");
    assert.equal(ok.res.status, 200);
    const slow = await chatStatus(user, "FAULT:slow_first_byte:1500");
    assert.equal(slow.res.status, 504);
    assert.equal(
      (await balanceOf(user)).balance,
      300 - chatCost("FAULT:slow_first_byte:200 WORDS:3", 3),
    );
    await healthy();
  },
);

faultTest("connection lost mid-body (JSON) → 502, refunded", async () => {
  const user = await fundedUser(300);
  const res = await chatStatus(user, "FAULT:disconnect_mid_stream WORDS:30");
  assert.equal(res.res.status, 502);
  assert.equal((await balanceOf(user)).balance, 300);
  await healthy();
});

faultTest("connection lost mid-stream → only the delivered tokens are charged", async () => {
  const user = await fundedUser(500);
  const job = await startJob(user, 300);
  const prompt = "FAULT:disconnect_mid_stream WORDS:20";
  const stream = await sdk(user, { job, gateway }).chat.completions.create({
    model,
    messages: [{ role: "user", content: prompt }],
    stream: true,
  });
  let text = "";
  let error: unknown;
  try {
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof APIError);
  assert.equal((error as APIError).code, "BAD_GATEWAY");
  // The fake sends the role chunk and 11 word chunks of 24 events, then cuts the connection.
  const words = text.split(" ").length;
  assert.equal(text, fakeCompletionText(words));
  assert.equal(words, 11);
  const [gen] = await generationsOf(user);
  assert.deepEqual([gen.status, gen.error_code, gen.output_units], [
    "partial",
    "BAD_GATEWAY",
    words,
  ]);
  assert.equal((await jobOf(job)).spent, chatCost(prompt, words));
  await healthy();
});

faultTest(
  "malformed JSON → 502 refunded; a malformed first stream chunk refunds everything",
  async () => {
    const user = await fundedUser(300);
    const res = await chatStatus(user, "FAULT:malformed_json");
    assert.equal(res.res.status, 502);
    const streamed = await chatStatus(user, "FAULT:malformed_json WORDS:5", { stream: true });
    assert.equal(streamed.res.status, 200);
    assert.match(streamed.text, /event: error\ndata: \{"error":\{"code":"BAD_GATEWAY"/);
    assert.doesNotMatch(streamed.text, /\[DONE\]/);
    assert.equal((await balanceOf(user)).balance, 300);
    const gens = await generationsOf(user);
    assert.deepEqual(gens.map((g) => [g.status, g.error_code]), [
      ["failed", "UPSTREAM_MALFORMED"],
      ["failed", "UPSTREAM_MALFORMED"],
    ]);
    await healthy();
  },
);

faultTest("missing usage → charged by Tollgate's estimate (JSON and stream)", async () => {
  const user = await fundedUser(300);
  const prompt = "FAULT:missing_usage WORDS:6";
  assert.equal((await chatStatus(user, prompt)).res.status, 200);
  const streamed = await chatStatus(user, prompt, { stream: true });
  assert.match(streamed.text, /data: \[DONE\]\n\n$/);
  assert.equal((await balanceOf(user)).balance, 300 - 2 * chatCost(prompt, 6));
  const gens = await generationsOf(user);
  assert.deepEqual(gens.map((g) => g.usage_source), ["estimated", "estimated"]);
});

faultTest(
  "upstream 400 → our 400 with the upstream's message, sanitised; nothing charged",
  async () => {
    const user = await fundedUser(300);
    const res = await chatStatus(user, "FAULT:400:leak");
    assert.equal(res.res.status, 400);
    const error = res.json?.error as { code: string; message: string; details: { reason: string } };
    assert.equal(error.code, "VALIDATION_FAILED");
    assert.equal(error.details.reason, "upstream_rejected");
    assert.match(error.message, /rejected by the fake upstream/);
    assert.doesNotMatch(res.text, /LEAKED|sk-proj/);
    assert.equal((await balanceOf(user)).balance, 300);
    const second = await chatStatus(user, "WORDS:1");
    assert.match(
      second.res.headers.get("ratelimit") ?? "",
      /"chat";r=58;/,
      "a 400 keeps its token",
    );
  },
);

faultTest("retries inside one call never charge twice (FAULT:fail_times)", async () => {
  const user = await fundedUser(300);
  const prompt = `FAULT:fail_times:2:${crypto.randomUUID()} WORDS:4`;
  const res = await chatStatus(user, prompt);
  assert.equal(res.res.status, 200);
  const [gen] = await generationsOf(user);
  assert.deepEqual([gen.status, gen.attempts, gen.credits_charged], [
    "succeeded",
    3,
    chatCost(prompt, 4),
  ]);
  assert.equal((await balanceOf(user)).balance, 300 - chatCost(prompt, 4));
});

faultTest("an SDK retry with the same Idempotency-Key after a 502 is charged once", async () => {
  const user = await fundedUser(300);
  const prompt = `FAULT:fail_times:3:${crypto.randomUUID()} WORDS:4`;
  const key = crypto.randomUUID();
  const client = sdk(user, { gateway, maxRetries: 1, headers: { "Idempotency-Key": key } });
  const completion = await client.chat.completions.create({
    model,
    messages: [{ role: "user", content: prompt }],
  });
  assert.equal(completion.choices[0].message.content, fakeCompletionText(4));
  const gens = await generationsOf(user);
  assert.deepEqual(gens.map((g) => [g.status, g.credits_charged]), [
    ["failed", 0],
    ["succeeded", chatCost(prompt, 4)],
  ]);
  // Sending the same request with the same key again is a replay: no new call, no charge.
  const again = await client.chat.completions.create({
    model,
    messages: [{ role: "user", content: prompt }],
  }).withResponse();
  assert.equal(again.response.headers.get("idempotent-replayed"), "true");
  assert.equal(again.data.choices[0].message.content, fakeCompletionText(4));
  assert.equal((await generationsOf(user)).length, 2);
  assert.equal((await balanceOf(user)).balance, 300 - chatCost(prompt, 4));
});

faultTest("speech: broken audio is refunded in full and the transfer fails", async () => {
  const user = await fundedUser(100);
  const voice = await speechModel("broken-voice", 1, 1000);
  const input = "FAULT:disconnect_mid_stream BYTES:100000";
  const res = await fetch(`${gateway}/functions/v1/ai/v1/audio/speech`, {
    method: "POST",
    headers: { ...user.headers, "content-type": "application/json" },
    body: JSON.stringify({ model: voice, voice: "alloy", input }),
  });
  assert.equal(res.status, 200);
  await assert.rejects(res.arrayBuffer());
  const [gen] = await settled(user);
  assert.deepEqual([gen.status, gen.error_code], ["failed", "BAD_GATEWAY"]);
  assert.equal((await balanceOf(user)).balance, 100);
  const malformed = await post(user, "/audio/speech", {
    model: voice,
    voice: "alloy",
    input: "FAULT:malformed_json",
  }, {
    gateway,
  });
  assert.equal(malformed.res.status, 502);
  assert.equal((await balanceOf(user)).balance, 100);
  await healthy();
});

faultTest("images: upstream 500 → 502, the one-shot charge refunded exactly once", async () => {
  const user = await fundedUser(100);
  const picture = await imageModel("broken-picture", 40);
  const res = await post(
    user,
    "/images/generations",
    { model: picture, prompt: "FAULT:503", n: 2 },
    {
      gateway,
    },
  );
  assert.equal(res.res.status, 502);
  assert.equal((await balanceOf(user)).balance, 100);
  const [gen] = await generationsOf(user);
  assert.deepEqual([gen.status, gen.credits_reserved, gen.credits_charged], ["failed", 80, 0]);
  await healthy();
});

faultTest("a client that disconnects mid-stream is charged for what it was sent", async () => {
  const user = await fundedUser(500);
  const job = await startJob(user, 300);
  const prompt = "CHUNK_DELAY:120 WORDS:30";
  const controller = new AbortController();
  const res = await fetch(`${gateway}/functions/v1/ai/v1/chat/completions`, {
    method: "POST",
    headers: {
      ...user.headers,
      "content-type": "application/json",
      "x-job-id": job.jobId,
      "x-job-token": job.token,
    },
    body: JSON.stringify({ model, messages: [{ role: "user", content: prompt }], stream: true }),
    signal: controller.signal,
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  while ((seen.match(/"content":"[^"]+"/g) ?? []).length < 3) {
    const { value } = await reader.read();
    seen += decoder.decode(value, { stream: true });
  }
  controller.abort();
  const [gen] = await settled(user);
  const received = (seen.match(/"content":"[^"]+"/g) ?? []).length;
  assert.equal(gen.status, "partial");
  assert.equal(gen.error_code, "CLIENT_CLOSED");
  // Delivered = handed to the connection; at most a chunk or two more than the client read.
  assert.ok(
    gen.output_units! >= received && gen.output_units! <= received + 2,
    `${gen.output_units}`,
  );
  assert.equal(gen.credits_charged, chatCost(prompt, gen.output_units!));
  assert.deepEqual(await jobOf(job), {
    amount: 300,
    spent: gen.credits_charged,
    status: "pending",
  });
  // The upstream was stopped: well before the 30 words × 120 ms it would have taken.
  assert.ok(gen.output_units! < 30);
});

faultTest("the client's credentials and headers never reach the upstream", async () => {
  const user = await fundedUser(300);
  const job = await startJob(user, 200, { device: "device-abc" });
  stack.fake.reset();
  const res = await post(user, "/chat/completions", {
    model,
    messages: [{ role: "user", content: "WORDS:2" }],
  }, {
    gateway,
    job,
    headers: {
      "x-device-id": "device-abc",
      "idempotency-key": crypto.randomUUID(),
      cookie: "session=abc",
      "x-request-id": "req-abcdefgh",
      "x-stainless-lang": "js",
      "x-custom": "1",
    },
  });
  assert.equal(res.res.status, 200, res.text);
  const [seen] = stack.fake.requests();
  assert.equal(seen.headers.authorization, `Bearer ${Deno.env.get("OPENAI_API_KEY")}`);
  assert.ok(!seen.headers.authorization.includes(user.token));
  const allowed = new Set([
    "authorization",
    "content-type",
    "accept",
    "content-length",
    "host",
    "user-agent",
    "accept-encoding",
    "accept-language",
  ]);
  const extra = Object.keys(seen.headers).filter((h) => !allowed.has(h));
  assert.deepEqual(extra, [], `unexpected upstream headers: ${extra}`);
  assert.ok(!seen.body.includes(job.token));
});

faultTest("the breaker opens, fails fast without SQL or charge, and recovers", async () => {
  const user = await fundedUser(500);
  await setFakeMode(stack.fake.url, "all_500");
  try {
    let status = 0;
    for (let i = 0; i < 5 && status !== 503; i++) {
      status = (await chatStatus(user, "WORDS:1")).res.status;
    }
    assert.equal(status, 503, "the breaker opened");
    const recorded = (await generationsOf(user)).length;
    const started = performance.now();
    const fast = await chatStatus(user, "WORDS:1");
    const elapsed = performance.now() - started;
    assert.equal(fast.res.status, 503);
    assert.equal((fast.json?.error as { code: string }).code, "CIRCUIT_BREAKER_OPEN");
    assert.ok(Number(fast.res.headers.get("retry-after")) >= 1);
    assert.ok(elapsed < 100, `fails fast (${elapsed.toFixed(1)} ms)`);
    assert.equal((await generationsOf(user)).length, recorded, "no SQL, no record");
    assert.equal((await balanceOf(user)).balance, 500, "nothing charged");
  } finally {
    await setFakeMode(stack.fake.url, "normal");
  }
  await new Promise((r) => setTimeout(r, 450)); // the cool-down
  const probe = await chatStatus(user, "WORDS:2");
  assert.equal(probe.res.status, 200, "the half-open probe succeeds and closes the breaker");
  assert.equal((await chatStatus(user, "WORDS:2")).res.status, 200);
  assert.equal((await balanceOf(user)).balance, 500 - 2 * chatCost("WORDS:2", 2));
});

faultTest("stop the tuned stack", async () => {
  await stack.close();
});

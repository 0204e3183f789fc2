/** The fake OpenAI upstream itself (every mode), and callUpstream driven against it. */
import assert from "node:assert/strict";
import {
  callUpstream,
  CircuitBreaker,
  readSseEvents,
  UpstreamClient,
} from "../../../functions/_shared/upstream/mod.ts";
import {
  FAKE_PNG_BASE64,
  fakeCompletionText,
  fakeSpeechBytes,
  type FakeUpstream,
  startFakeUpstream,
} from "../../fakes/openai_upstream.ts";
import { fakeTime } from "./helpers.ts";

const KEY = "sk-fake-expected";

function withFake(name: string, fn: (fake: FakeUpstream) => Promise<void>): void {
  Deno.test(name, async () => {
    const fake = await startFakeUpstream({ apiKey: KEY });
    try {
      await fn(fake);
    } finally {
      await fake.close();
    }
  });
}

function post(fake: FakeUpstream, path: string, body: unknown, init: RequestInit = {}) {
  return fetch(`${fake.baseUrl}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
    ...init,
  });
}

function chatBody(content: string, extra: Record<string, unknown> = {}) {
  return { model: "gpt-4o-mini", messages: [{ role: "user", content }], ...extra };
}

async function sseData(res: Response): Promise<string[]> {
  const out: string[] = [];
  for await (const e of readSseEvents(res.body!)) out.push(e.data);
  return out;
}

withFake("fake: models, auth and unknown routes", async (fake) => {
  const models = await fetch(`${fake.baseUrl}/models`, {
    headers: { authorization: `Bearer ${KEY}` },
  });
  assert.equal(models.status, 200);
  const list = await models.json();
  assert.equal(list.object, "list");
  assert.ok(list.data.some((m: { id: string }) => m.id === "gpt-4o-mini"));

  const noKey = await fetch(`${fake.baseUrl}/models`);
  assert.equal(noKey.status, 401);
  assert.equal((await noKey.json()).error.code, "invalid_api_key");
  const wrong = await fetch(`${fake.baseUrl}/models`, {
    headers: { authorization: "Bearer sk-wrong-key" },
  });
  assert.equal(wrong.status, 401);
  await wrong.body?.cancel();

  const unknown = await post(fake, "/nope", {});
  assert.equal(unknown.status, 404);
  await unknown.body?.cancel();
});

withFake("fake: chat JSON with usage and controllable length", async (fake) => {
  const content = "Say something nice please"; // 25 chars → 7 prompt tokens
  const res = await post(fake, "/chat/completions", chatBody(content));
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.object, "chat.completion");
  assert.equal(body.choices[0].message.content, fakeCompletionText(20));
  assert.equal(body.choices[0].finish_reason, "stop");
  assert.deepEqual(body.usage, { prompt_tokens: 7, completion_tokens: 20, total_tokens: 27 });
  assert.equal(
    body.usage.completion_tokens,
    Math.ceil(body.choices[0].message.content.length / 4),
    "1 token per word = ceil(chars/4)",
  );

  const capped = await (await post(fake, "/chat/completions", chatBody("hi", { max_tokens: 5 })))
    .json();
  assert.equal(capped.usage.completion_tokens, 5);
  assert.equal(capped.choices[0].finish_reason, "length");

  const words = await (await post(fake, "/chat/completions", chatBody("WORDS:50"))).json();
  assert.equal(words.usage.completion_tokens, 50);
  assert.equal(words.choices[0].message.content, fakeCompletionText(50));

  const [recorded] = fake.requests();
  assert.equal(recorded.path, "/v1/chat/completions");
  assert.match(recorded.body, /Say something nice/);
});

withFake("fake: chat SSE with include_usage ends with a usage chunk and [DONE]", async (fake) => {
  const res = await post(
    fake,
    "/chat/completions",
    chatBody("WORDS:4", { stream: true, stream_options: { include_usage: true } }),
  );
  assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
  const data = await sseData(res);
  assert.equal(data.at(-1), "[DONE]");
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
  assert.ok(chunks.every((c) => c.object === "chat.completion.chunk"));
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
  assert.equal(text, fakeCompletionText(4));
  const usage = chunks.at(-1);
  assert.deepEqual(usage.choices, []);
  assert.deepEqual(usage.usage, { prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 });
  assert.equal(chunks.at(-2).choices[0].finish_reason, "stop");

  const noUsage = await sseData(
    await post(fake, "/chat/completions", chatBody("WORDS:4", { stream: true })),
  );
  assert.ok(noUsage.slice(0, -1).every((d) => !("usage" in JSON.parse(d))));
  assert.equal(noUsage.at(-1), "[DONE]");
});

withFake("fake: speech streams deterministic audio bytes", async (fake) => {
  const res = await post(fake, "/audio/speech", { model: "tts-1", input: "Hello", voice: "alloy" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "audio/mpeg");
  const bytes = new Uint8Array(await res.arrayBuffer());
  assert.equal(bytes.length, 200_000);
  assert.deepEqual(bytes, fakeSpeechBytes(200_000));

  const small = await post(fake, "/audio/speech", {
    model: "tts-1",
    input: "BYTES:1000",
    voice: "alloy",
    response_format: "opus",
  });
  assert.equal(small.headers.get("content-type"), "audio/opus");
  assert.equal((await small.arrayBuffer()).byteLength, 1000);
});

withFake("fake: images return n urls or b64_json", async (fake) => {
  const urls = await (await post(fake, "/images/generations", { prompt: "a cat", n: 3 })).json();
  assert.equal(typeof urls.created, "number");
  assert.equal(urls.data.length, 3);
  const png = await fetch(urls.data[0].url);
  assert.equal(png.headers.get("content-type"), "image/png");
  await png.body?.cancel();

  const b64 = await (await post(fake, "/images/generations", {
    prompt: "a dog",
    n: 2,
    response_format: "b64_json",
  })).json();
  assert.deepEqual(b64.data, [{ b64_json: FAKE_PNG_BASE64 }, { b64_json: FAKE_PNG_BASE64 }]);
});

withFake("fake: FAULT:<status>, FAULT:429 with Retry-After, FAULT:400 bodies", async (fake) => {
  const e500 = await post(fake, "/chat/completions", chatBody("FAULT:500"));
  assert.equal(e500.status, 500);
  assert.equal((await e500.json()).error.type, "server_error");

  const e429 = await post(fake, "/audio/speech", { input: "FAULT:429", voice: "alloy" });
  assert.equal(e429.status, 429);
  assert.equal(e429.headers.get("retry-after"), "1");
  assert.equal((await e429.json()).error.code, "rate_limit_exceeded");
  const e429b = await post(fake, "/chat/completions", chatBody("FAULT:429:3"));
  assert.equal(e429b.headers.get("retry-after"), "3");
  await e429b.body?.cancel();

  const e400 = await post(fake, "/images/generations", { prompt: "FAULT:400" });
  assert.equal(e400.status, 400);
  const err = (await e400.json()).error;
  assert.equal(err.type, "invalid_request_error");
  assert.equal(err.param, "messages");
  assert.doesNotMatch(err.message, /sk-/);
  const leak = await (await post(fake, "/chat/completions", chatBody("FAULT:400:leak"))).json();
  assert.match(leak.error.message, /sk-proj-LEAKED/);
});

withFake("fake: FAULT:hang answers only when the client gives up", async (fake) => {
  const t0 = performance.now();
  await assert.rejects(
    post(fake, "/chat/completions", chatBody("FAULT:hang"), { signal: AbortSignal.timeout(80) }),
  );
  assert.ok(performance.now() - t0 >= 75);
  await waitFor(() => fake.stats().inFlight === 0);
});

withFake("fake: FAULT:slow_first_byte delays the headers", async (fake) => {
  const t0 = performance.now();
  const res = await post(fake, "/chat/completions", chatBody("FAULT:slow_first_byte:150"));
  assert.ok(performance.now() - t0 >= 145);
  assert.equal(res.status, 200);
  assert.equal((await res.json()).usage.completion_tokens, 20);
});

withFake("fake: FAULT:disconnect_mid_stream cuts SSE, JSON and audio bodies", async (fake) => {
  const stream = await post(
    fake,
    "/chat/completions",
    chatBody("FAULT:disconnect_mid_stream", { stream: true }),
  );
  assert.equal(stream.status, 200);
  const seen: string[] = [];
  await assert.rejects(async () => {
    for await (const e of readSseEvents(stream.body!)) seen.push(e.data);
  });
  assert.ok(seen.length >= 2, "some chunks arrived before the cut");
  assert.ok(!seen.includes("[DONE]"));

  const json = await post(fake, "/chat/completions", chatBody("FAULT:disconnect_mid_stream"));
  assert.equal(json.status, 200);
  await assert.rejects(json.json());

  const audio = await post(fake, "/audio/speech", {
    input: "FAULT:disconnect_mid_stream",
    voice: "alloy",
  });
  await assert.rejects(audio.arrayBuffer());
});

withFake("fake: FAULT:malformed_json and FAULT:missing_usage", async (fake) => {
  const bad = await post(fake, "/chat/completions", chatBody("FAULT:malformed_json"));
  assert.equal(bad.status, 200);
  await assert.rejects(bad.json(), SyntaxError);
  const badImages = await post(fake, "/images/generations", { prompt: "FAULT:malformed_json" });
  await assert.rejects(badImages.json(), SyntaxError);
  const badStream = await sseData(
    await post(fake, "/chat/completions", chatBody("FAULT:malformed_json", { stream: true })),
  );
  assert.throws(() => badStream.slice(0, -1).forEach((d) => JSON.parse(d)), SyntaxError);

  const noUsage = await (await post(fake, "/chat/completions", chatBody("FAULT:missing_usage")))
    .json();
  assert.equal(noUsage.usage, undefined);
  assert.equal(noUsage.choices[0].message.content, fakeCompletionText(20));
  const noUsageStream = await sseData(
    await post(
      fake,
      "/chat/completions",
      chatBody("FAULT:missing_usage", { stream: true, stream_options: { include_usage: true } }),
    ),
  );
  assert.equal(noUsageStream.at(-1), "[DONE]");
  assert.ok(noUsageStream.slice(0, -1).every((d) => JSON.parse(d).usage == null));
});

withFake("fake: FAULT:fail_times:<n>:<id> fails n times per id, then succeeds", async (fake) => {
  const statuses = async (content: string, times: number) => {
    const out: number[] = [];
    for (let i = 0; i < times; i++) {
      const res = await post(fake, "/chat/completions", chatBody(content));
      out.push(res.status);
      await res.body?.cancel();
    }
    return out;
  };
  assert.deepEqual(await statuses("FAULT:fail_times:2:a", 4), [503, 503, 200, 200]);
  assert.deepEqual(await statuses("FAULT:fail_times:2:b", 1), [503], "ids count separately");
});

withFake("fake: control modes, stats and reset", async (fake) => {
  const control = (mode: string) =>
    fetch(`${fake.url}/__control`, { method: "POST", body: JSON.stringify({ mode }) });
  assert.equal((await (await control("all_500")).json()).mode, "all_500");
  const res = await post(fake, "/chat/completions", chatBody("hello"));
  assert.equal(res.status, 500);
  await res.body?.cancel();

  await (await control("all_hang")).body?.cancel();
  await assert.rejects(
    post(fake, "/audio/speech", { input: "x", voice: "alloy" }, {
      signal: AbortSignal.timeout(50),
    }),
  );
  assert.equal((await control("bogus")).status, 400);
  await (await control("normal")).body?.cancel();
  const good = await post(fake, "/chat/completions", chatBody("hello"));
  assert.equal(good.status, 200);
  await good.body?.cancel();

  const stats = await (await fetch(`${fake.url}/__control/stats`)).json();
  assert.equal(stats.total, 3);
  assert.equal(stats.byRoute["POST /v1/chat/completions"], 2);
  assert.equal(stats.byStatus["500"], 1);
  await (await fetch(`${fake.url}/__control/reset`, { method: "POST" })).body?.cancel();
  assert.equal(fake.stats().total, 0);
  assert.equal(fake.requests().length, 0);
});

withFake("fake: concurrent requests each get their own directive", async (fake) => {
  const contents = ["FAULT:500", "WORDS:3", "FAULT:400", "WORDS:9", "FAULT:slow_first_byte:50"];
  const results = await Promise.all(contents.map(async (c) => {
    const res = await post(fake, "/chat/completions", chatBody(c));
    return { status: res.status, body: await res.json() };
  }));
  assert.deepEqual(results.map((r) => r.status), [500, 200, 400, 200, 200]);
  assert.equal(results[1].body.usage.completion_tokens, 3);
  assert.equal(results[3].body.usage.completion_tokens, 9);
});

// ---- callUpstream against the real fake ----

function client(
  fake: FakeUpstream,
  extra: Partial<ConstructorParameters<typeof UpstreamClient>[0]> = {},
) {
  const time = fakeTime();
  return new UpstreamClient({
    baseUrl: fake.baseUrl,
    apiKey: KEY,
    sleep: time.sleep, // instant backoff; real network timeouts
    ...extra,
  });
}

withFake("upstream+fake: fail_times is retried to success", async (fake) => {
  const result = await client(fake).post(
    "/chat/completions",
    JSON.stringify(chatBody("FAULT:fail_times:2:retry")),
  );
  assert.equal(result.ok, true);
  if (!result.ok) return;
  assert.equal(result.attempts, 3);
  assert.equal((await result.response.json()).usage.completion_tokens, 20);
  assert.equal(fake.stats().total, 3);
});

withFake("upstream+fake: 429 honours Retry-After: 1", async (fake) => {
  const time = fakeTime();
  const result = await client(fake, { sleep: time.sleep, now: time.now, maxAttempts: 2 }).post(
    "/chat/completions",
    JSON.stringify(chatBody("FAULT:429")),
  );
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.deepEqual(time.sleeps, [1000]);
  assert.equal(result.error.upstreamStatus, 429);
});

withFake(
  "upstream+fake: hang times out at the first byte and the fake sees the abort",
  async (fake) => {
    const result = await client(fake, { firstByteTimeoutMs: 100 }).post(
      "/chat/completions",
      JSON.stringify(chatBody("FAULT:hang")),
    );
    assert.equal(result.ok, false);
    if (!result.ok) assert.equal(result.error.code, "TIMEOUT");
    assert.equal(fake.stats().total, 1);
    await waitFor(() => fake.stats().inFlight === 0);
  },
);

withFake(
  "upstream+fake: 400 passes through sanitised; our key is refused on mismatch",
  async (fake) => {
    const rejected = await client(fake).post(
      "/chat/completions",
      JSON.stringify(chatBody("FAULT:400:leak")),
    );
    assert.equal(rejected.ok, false);
    if (!rejected.ok) {
      assert.equal(rejected.error.code, "UPSTREAM_REJECTED");
      assert.match(rejected.error.message, /^Invalid value for 'messages'/);
      assert.doesNotMatch(rejected.error.message, /LEAKED|sk-/);
    }
    const badKey = await client(fake, { apiKey: "sk-not-the-one" }).get("/models");
    assert.equal(badKey.ok, false);
    if (!badKey.ok) assert.equal(badKey.error.code, "BAD_GATEWAY");
    assert.equal(fake.stats().byStatus["401"], 1, "a 401 is not retried");
  },
);

withFake("upstream+fake: a stream cut midway is not retried", async (fake) => {
  const result = await client(fake).post(
    "/chat/completions",
    JSON.stringify(chatBody("FAULT:disconnect_mid_stream", { stream: true })),
    { accept: "text/event-stream" },
  );
  assert.equal(result.ok, true);
  if (!result.ok) return;
  await assert.rejects(result.response.text());
  assert.equal(fake.stats().total, 1);
});

withFake("upstream+fake: breaker opens under all_500, fails fast, recovers", async (fake) => {
  const time = fakeTime();
  const breaker = new CircuitBreaker({ consecutiveFailures: 5, coolDownMs: 10_000, now: time.now });
  const c = client(fake, { breaker, maxAttempts: 1, now: time.now });
  fake.setMode("all_500");
  const body = JSON.stringify(chatBody("hi"));
  for (let i = 0; i < 5; i++) assert.equal((await c.post("/chat/completions", body)).ok, false);
  const fast = await c.post("/chat/completions", body);
  assert.equal(fast.ok, false);
  if (!fast.ok) assert.equal(fast.error.code, "CIRCUIT_BREAKER_OPEN");
  assert.equal(fake.stats().total, 5, "the open breaker did not call the upstream");

  fake.setMode("normal");
  time.advance(10_000);
  const probe = await c.post("/chat/completions", body);
  assert.equal(probe.ok, true);
  if (probe.ok) await probe.response.body?.cancel();
  assert.equal(breaker.state, "closed");
});

Deno.test("upstream+fake: a refused connection is a BAD_GATEWAY after retries", async () => {
  const fake = await startFakeUpstream();
  const url = fake.baseUrl;
  await fake.close(); // nothing listens there any more
  const time = fakeTime();
  const result = await callUpstream(
    { url: `${url}/models`, headers: new Headers({ authorization: "Bearer x" }) },
    { sleep: time.sleep, now: time.now },
  );
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.equal(result.error.code, "BAD_GATEWAY");
    assert.equal(result.attempts, 3);
  }
});

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

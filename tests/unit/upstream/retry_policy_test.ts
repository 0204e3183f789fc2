import assert from "node:assert/strict";
import {
  backoffDelayMs,
  callUpstream,
  CircuitBreaker,
  parseRetryAfterMs,
  type UpstreamFailure,
  type UpstreamResult,
} from "../../../functions/_shared/upstream/mod.ts";
import { API_KEY, fakeTime, headers, ok, scriptedFetch, status } from "./helpers.ts";

const URL_ = "http://upstream.invalid/v1/chat/completions";

function call(
  fetchFn: typeof fetch,
  time = fakeTime(),
  extra: Parameters<typeof callUpstream>[1] = {},
  signal?: AbortSignal,
): Promise<UpstreamResult> {
  return callUpstream(
    { url: URL_, headers: headers(), body: '{"model":"m"}', signal },
    {
      fetch: fetchFn,
      now: time.now,
      sleep: time.sleep,
      random: () => 0.5,
      secrets: [API_KEY],
      ...extra,
    },
  );
}

function failure(result: UpstreamResult): UpstreamFailure {
  assert.equal(result.ok, false, "expected a failure");
  return result as UpstreamFailure;
}

Deno.test("a 5xx is retried and the later success is returned with its body unread", async () => {
  const f = scriptedFetch(status(503), status(500), ok('{"answer":42}'));
  const time = fakeTime();
  const result = await call(f.fetch, time);
  assert.equal(result.ok, true);
  if (!result.ok) return;
  assert.equal(result.attempts, 3);
  assert.equal(result.response.bodyUsed, false);
  assert.deepEqual(await result.response.json(), { answer: 42 });
  // full jitter with random 0.5: half of 250·2^0, then half of 250·2^1
  assert.deepEqual(time.sleeps, [125, 250]);
  assert.equal(f.calls[0].init.method, "POST");
  assert.equal(f.calls[0].init.redirect, "manual");
});

Deno.test("429 is retried and its Retry-After seconds are honoured instead of backoff", async () => {
  const f = scriptedFetch(status(429, { "retry-after": "2" }), ok());
  const time = fakeTime();
  const result = await call(f.fetch, time);
  assert.equal(result.ok, true);
  assert.deepEqual(time.sleeps, [2000]);
});

Deno.test("Retry-After as an HTTP-date and retry-after-ms are honoured", async () => {
  const time = fakeTime();
  const date = new Date(time.now() + 3000).toUTCString();
  const f = scriptedFetch(
    status(503, { "retry-after": date }),
    status(429, { "retry-after-ms": "1500", "retry-after": "9" }),
    ok(),
  );
  const result = await call(f.fetch, time);
  assert.equal(result.ok, true);
  assert.deepEqual(time.sleeps, [3000, 1500]);
});

Deno.test("parseRetryAfterMs ignores garbage and clamps past dates to zero", () => {
  const now = Date.parse("2026-01-01T00:00:10Z");
  assert.equal(parseRetryAfterMs(new Headers({ "retry-after": "soon" }), now), undefined);
  assert.equal(parseRetryAfterMs(new Headers(), now), undefined);
  assert.equal(
    parseRetryAfterMs(new Headers({ "retry-after": "Thu, 01 Jan 2026 00:00:00 GMT" }), now),
    0,
  );
  assert.equal(parseRetryAfterMs(new Headers({ "retry-after": "0.5" }), now), 500);
});

Deno.test("connection errors are retried; exhausted attempts give BAD_GATEWAY", async () => {
  const f = scriptedFetch(new TypeError("connection refused"));
  const result = failure(await call(f.fetch));
  assert.equal(f.calls.length, 3);
  assert.equal(result.attempts, 3);
  assert.equal(result.error.code, "BAD_GATEWAY");
  assert.equal(result.error.status, 502);
  assert.equal(result.error.upstreamStatus, undefined);
});

Deno.test("5xx after all retries is BAD_GATEWAY with the upstream status", async () => {
  const f = scriptedFetch(status(502), status(503, { "retry-after": "1" }));
  const result = failure(await call(f.fetch, fakeTime(), { maxAttempts: 4 }));
  assert.equal(f.calls.length, 4);
  assert.equal(result.error.code, "BAD_GATEWAY");
  assert.equal(result.error.upstreamStatus, 503);
  assert.equal(result.error.retryAfterSeconds, 1);
});

Deno.test("a 400 is not retried and its message passes through sanitised", async () => {
  const body = JSON.stringify({
    error: {
      message: `Bad 'messages'. Incorrect API key provided: sk-proj-abc123XYZ456. ` +
        `Also ${API_KEY} and Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl`,
      type: "invalid_request_error",
      code: "invalid_value",
      param: "messages",
    },
  });
  const f = scriptedFetch(status(400, { "content-type": "application/json" }, body));
  const result = failure(await call(f.fetch));
  assert.equal(f.calls.length, 1);
  assert.equal(result.error.code, "UPSTREAM_REJECTED");
  assert.equal(result.error.status, 400);
  assert.equal(result.error.upstreamStatus, 400);
  assert.match(result.error.message, /^Bad 'messages'\./);
  assert.doesNotMatch(result.error.message, /sk-|eyJ|0123456789|Bearer/);
  assert.deepEqual(result.error.details, {
    type: "invalid_request_error",
    code: "invalid_value",
    param: "messages",
  });
});

Deno.test("other 4xx are final too; 401/403 (our key) become BAD_GATEWAY", async () => {
  for (const code of [404, 409, 422]) {
    const f = scriptedFetch(status(code, {}, "not json"));
    const result = failure(await call(f.fetch));
    assert.equal(f.calls.length, 1);
    assert.equal(result.error.code, "UPSTREAM_REJECTED");
    assert.equal(result.error.message, `the AI provider rejected the request (HTTP ${code})`);
  }
  for (const code of [401, 403]) {
    const f = scriptedFetch(status(code, {}, '{"error":{"message":"bad key sk-abcdefgh"}}'));
    const result = failure(await call(f.fetch));
    assert.equal(f.calls.length, 1);
    assert.equal(result.error.code, "BAD_GATEWAY");
    assert.doesNotMatch(result.error.message, /sk-/);
  }
});

Deno.test("a Retry-After beyond the deadline stops retrying at once", async () => {
  const f = scriptedFetch(status(429, { "retry-after": "30" }), ok());
  const time = fakeTime();
  const result = failure(await call(f.fetch, time, { deadlineMs: 10_000 }));
  assert.equal(f.calls.length, 1);
  assert.deepEqual(time.sleeps, []);
  assert.equal(result.error.code, "BAD_GATEWAY");
  assert.equal(result.error.upstreamStatus, 429);
  assert.equal(result.error.retryAfterSeconds, 30);
});

Deno.test("retries stop at the overall deadline", async () => {
  const time = fakeTime();
  // every attempt takes 4 s of (virtual) time before failing
  const f = scriptedFetch(() => {
    time.advance(4000);
    return Promise.resolve(status(500));
  });
  const result = failure(await call(f.fetch, time, { deadlineMs: 10_000, maxAttempts: 10 }));
  // attempts start at 0 s, ~4.1 s and ~8.4 s; a fourth would start after the 10 s deadline
  assert.equal(f.calls.length, 3);
  assert.equal(result.error.code, "BAD_GATEWAY");
});

Deno.test("backoff is full jitter, exponential and capped", () => {
  assert.equal(backoffDelayMs(1, 100, 1000, () => 0), 0);
  assert.equal(backoffDelayMs(1, 100, 1000, () => 0.999), 99);
  assert.equal(backoffDelayMs(3, 100, 1000, () => 0.999), 399);
  assert.equal(backoffDelayMs(10, 100, 1000, () => 0.999), 999);
});

Deno.test("nothing is retried once a response was handed over, even if its body breaks", async () => {
  let pulls = 0;
  const broken = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulls++ === 0) controller.enqueue(new TextEncoder().encode("data: {}\n\n"));
      else controller.error(new TypeError("connection reset"));
    },
  });
  const f = scriptedFetch(new Response(broken, { status: 200 }), ok());
  const breaker = new CircuitBreaker({ consecutiveFailures: 1 });
  const result = await call(f.fetch, fakeTime(), { breaker });
  assert.equal(result.ok, true);
  if (!result.ok) return;
  await assert.rejects(result.response.text());
  assert.equal(f.calls.length, 1);
  assert.equal(breaker.state, "closed");
  result.reportBodyFailure();
  assert.equal(breaker.state, "open", "a body failure reported by the caller counts");
});

Deno.test("a first-byte timeout gives TIMEOUT and is not retried by default", async () => {
  const f = scriptedFetch("hang");
  const t0 = performance.now();
  const result = failure(await call(f.fetch, fakeTime(), { firstByteTimeoutMs: 30 }));
  assert.ok(performance.now() - t0 < 1000);
  assert.equal(f.calls.length, 1);
  assert.equal(result.error.code, "TIMEOUT");
  assert.equal(result.error.status, 504);
  assert.equal(f.calls[0].init.signal?.aborted, true, "the hanging attempt was aborted");
});

Deno.test("retryOnTimeout retries timed-out attempts", async () => {
  const f = scriptedFetch("hang", "hang", ok());
  const result = await call(f.fetch, fakeTime(), { firstByteTimeoutMs: 20, retryOnTimeout: true });
  assert.equal(result.ok, true);
  assert.equal(f.calls.length, 3);
});

Deno.test("the per-attempt timeout is capped by the remaining deadline", async () => {
  const f = scriptedFetch("hang");
  const t0 = performance.now();
  const result = failure(
    await call(f.fetch, fakeTime(), { firstByteTimeoutMs: 60_000, deadlineMs: 40 }),
  );
  assert.ok(performance.now() - t0 < 1000);
  assert.equal(result.error.code, "TIMEOUT");
});

Deno.test("the timeout stops at the headers: a slow body is the caller's business", async () => {
  const slowBody = new ReadableStream<Uint8Array>({
    async start(controller) {
      await new Promise((r) => setTimeout(r, 60));
      controller.enqueue(new TextEncoder().encode("late"));
      controller.close();
    },
  });
  const f = scriptedFetch(new Response(slowBody, { status: 200 }));
  const result = await call(f.fetch, fakeTime(), { firstByteTimeoutMs: 20 });
  assert.equal(result.ok, true);
  if (result.ok) assert.equal(await result.response.text(), "late");
});

Deno.test("a caller abort during an attempt ends the call with CLIENT_CLOSED", async () => {
  const f = scriptedFetch("hang");
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 20);
  const result = failure(await call(f.fetch, fakeTime(), {}, controller.signal));
  assert.equal(result.error.code, "CLIENT_CLOSED");
  assert.equal(f.calls.length, 1);
  assert.equal(f.calls[0].init.signal?.aborted, true);
});

Deno.test("a caller abort during backoff stops further attempts", async () => {
  const controller = new AbortController();
  const f = scriptedFetch(status(503));
  const result = failure(
    await call(f.fetch, fakeTime(), {
      sleep: () => {
        controller.abort();
        return Promise.resolve();
      },
    }, controller.signal),
  );
  assert.equal(result.error.code, "CLIENT_CLOSED");
  assert.equal(f.calls.length, 1);
});

Deno.test("an already-aborted caller never reaches the upstream", async () => {
  const f = scriptedFetch(ok());
  const result = failure(await call(f.fetch, fakeTime(), {}, AbortSignal.abort()));
  assert.equal(result.error.code, "CLIENT_CLOSED");
  assert.equal(result.attempts, 0);
  assert.equal(f.calls.length, 0);
});

Deno.test("a caller abort after the headers also aborts the body", async () => {
  const f = scriptedFetch((signal) => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        signal.addEventListener("abort", () => controller.error(signal.reason));
      },
    });
    return Promise.resolve(new Response(body, { status: 200 }));
  });
  const controller = new AbortController();
  const result = await call(f.fetch, fakeTime(), {}, controller.signal);
  assert.equal(result.ok, true);
  if (!result.ok) return;
  const reading = result.response.text();
  controller.abort();
  await assert.rejects(reading);
});

Deno.test("an open breaker fails fast without calling the upstream", async () => {
  const time = fakeTime();
  const breaker = new CircuitBreaker({ consecutiveFailures: 2, coolDownMs: 10_000, now: time.now });
  const f = scriptedFetch(status(500));
  failure(await call(f.fetch, time, { breaker, maxAttempts: 2 }));
  assert.equal(f.calls.length, 2);
  const result = failure(await call(f.fetch, time, { breaker }));
  assert.equal(f.calls.length, 2);
  assert.equal(result.attempts, 0);
  assert.equal(result.error.code, "CIRCUIT_BREAKER_OPEN");
  assert.equal(result.error.status, 503);
  assert.equal(result.error.retryAfterSeconds, 10);
});

Deno.test("a breaker that opens mid-retry ends the call with the real upstream error", async () => {
  const time = fakeTime();
  const breaker = new CircuitBreaker({ consecutiveFailures: 1, now: time.now });
  const f = scriptedFetch(status(502));
  const result = failure(await call(f.fetch, time, { breaker }));
  assert.equal(f.calls.length, 1);
  assert.equal(result.error.code, "BAD_GATEWAY");
  assert.equal(result.error.upstreamStatus, 502);
});

Deno.test("4xx answers count as breaker successes, caller aborts as neutral", async () => {
  const time = fakeTime();
  const breaker = new CircuitBreaker({ consecutiveFailures: 2, now: time.now });
  await call(scriptedFetch(status(500)).fetch, time, { breaker, maxAttempts: 1 });
  await call(scriptedFetch(status(400)).fetch, time, { breaker, maxAttempts: 1 });
  await call(scriptedFetch(status(500)).fetch, time, { breaker, maxAttempts: 1 });
  assert.equal(breaker.state, "closed", "the 400 reset the consecutive count");
  await call(scriptedFetch("hang").fetch, time, { breaker }, AbortSignal.timeout(10));
  assert.equal(breaker.state, "closed", "the abort did not count");
  await call(scriptedFetch(status(429)).fetch, time, { breaker, maxAttempts: 1 });
  assert.equal(breaker.state, "open", "429 counts as a failure");
});

Deno.test("headers off the allow-list are refused before anything is sent", async () => {
  const f = scriptedFetch(ok());
  const h = headers();
  h.set("Cookie", "session=1");
  await assert.rejects(
    callUpstream({ url: URL_, headers: h }, { fetch: f.fetch }),
    /allow-list/,
  );
  assert.equal(f.calls.length, 0);
});

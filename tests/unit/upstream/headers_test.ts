import assert from "node:assert/strict";
import {
  assertAllowedUpstreamHeaders,
  buildUpstreamHeaders,
  sanitizeUpstreamMessage,
  UpstreamClient,
} from "../../../functions/_shared/upstream/mod.ts";
import { startFakeUpstream } from "../../fakes/openai_upstream.ts";

Deno.test("buildUpstreamHeaders sets exactly our key, the content type and accept", () => {
  const h = buildUpstreamHeaders("sk-server", "application/json", "text/event-stream");
  assert.deepEqual([...h], [
    ["accept", "text/event-stream"],
    ["authorization", "Bearer sk-server"],
    ["content-type", "application/json"],
  ]);
  assert.deepEqual([...buildUpstreamHeaders("sk-server")], [
    ["accept", "application/json"],
    ["authorization", "Bearer sk-server"],
  ]);
});

Deno.test("buildUpstreamHeaders refuses an empty key and header injection", () => {
  assert.throws(() => buildUpstreamHeaders(" "), /empty/);
  assert.throws(() => buildUpstreamHeaders("sk\r\nX-Evil: 1"), /line breaks/);
  assert.throws(() => buildUpstreamHeaders("sk", "text/plain\nCookie: a"), /line breaks/);
});

Deno.test("assertAllowedUpstreamHeaders rejects anything off the list", () => {
  assertAllowedUpstreamHeaders(buildUpstreamHeaders("sk", "application/json"));
  for (const name of ["Cookie", "X-Device-Id", "X-Job-Id", "X-Forwarded-For", "apikey"]) {
    const h = buildUpstreamHeaders("sk");
    h.set(name, "x");
    assert.throws(() => assertAllowedUpstreamHeaders(h), /allow-list/, name);
  }
});

Deno.test("only our own headers reach the upstream (checked at the fake upstream)", async () => {
  const fake = await startFakeUpstream({ apiKey: "sk-server-key" });
  try {
    const client = new UpstreamClient({ baseUrl: fake.baseUrl, apiKey: "sk-server-key" });
    const result = await client.post(
      "/chat/completions",
      JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
    );
    assert.equal(result.ok, true);
    if (result.ok) await result.response.body?.cancel();
    const [seen] = fake.requests();
    assert.equal(seen.headers["authorization"], "Bearer sk-server-key");
    // what fetch itself adds is fine; nothing else may appear
    const transport = [
      "host",
      "user-agent",
      "accept-encoding",
      "accept-language",
      "content-length",
    ];
    for (const name of Object.keys(seen.headers)) {
      assert.ok(
        ["authorization", "content-type", "accept", ...transport].includes(name),
        `unexpected header forwarded: ${name}`,
      );
    }
  } finally {
    await fake.close();
  }
});

Deno.test("sanitizeUpstreamMessage strips keys, tokens and the given secrets", () => {
  const cases: [string, string][] = [
    [
      "Incorrect API key provided: sk-proj-AbC123***wxyz.",
      "Incorrect API key provided: [redacted].",
    ],
    ["auth Bearer abc.def failed", "auth [redacted] failed"],
    ["token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig here", "token [redacted] here"],
    ["api_key=hunter2 and password: p4ss", "[redacted] and [redacted]"],
    [`hash ${"a1".repeat(20)} end`, "hash [redacted] end"],
    ["The model `gpt-x` does not exist", "The model `gpt-x` does not exist"],
  ];
  for (const [input, expected] of cases) assert.equal(sanitizeUpstreamMessage(input), expected);
  assert.equal(
    sanitizeUpstreamMessage("key=short MYSECRET1", ["MYSECRET1"]),
    "[redacted] [redacted]",
  );
  assert.equal(sanitizeUpstreamMessage("x".repeat(20) + " y\n\n z"), "x".repeat(20) + " y z");
  assert.equal(sanitizeUpstreamMessage("word ".repeat(300)).length, 500);
});

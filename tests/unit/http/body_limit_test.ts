import assert from "node:assert/strict";
import { z } from "zod";
import { createBaseApp } from "../../../functions/_shared/http/app.ts";
import { validate } from "../../../functions/_shared/http/validate/index.ts";
import { captureLogger, errorBody, testConfig } from "./helpers.ts";

const LIMIT = 1024;

function app() {
  const a = createBaseApp("b", {
    config: testConfig({ MAX_BODY_BYTES: String(LIMIT) }),
    logger: captureLogger().logger,
  });
  a.post("/echo", async (c) => c.json({ bytes: (await c.req.arrayBuffer()).byteLength }));
  a.post(
    "/json",
    validate("json", z.object({ s: z.string() })),
    (c) => c.json({ len: c.req.valid("json").s.length }),
  );
  return a;
}

/** A body with no Content-Length: delivered in chunks, as a chunked upload would be. */
function stream(total: number, chunk = 100): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      const n = Math.min(chunk, total - sent);
      sent += n;
      controller.enqueue(new Uint8Array(n).fill(120));
    },
  });
}

Deno.test("the default limit is 1 MiB", () => {
  assert.equal(testConfig().MAX_BODY_BYTES, 1048576);
});

Deno.test("a body at the limit passes", async () => {
  const res = await app().request("/b/echo", { method: "POST", body: "x".repeat(LIMIT) });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { bytes: LIMIT });
});

Deno.test("Content-Length above the limit → 413 before reading", async () => {
  const res = await app().request("/b/echo", { method: "POST", body: "x".repeat(LIMIT + 1) });
  assert.equal(res.status, 413);
  const err = await errorBody(res);
  assert.equal(err.code, "REQUEST_TOO_LARGE");
  assert.deepEqual(err.details, { maxBytes: LIMIT });
});

Deno.test("a streamed body without Content-Length is counted: under the limit passes", async () => {
  const req = new Request("http://x/b/echo", { method: "POST", body: stream(LIMIT - 10) });
  assert.equal(req.headers.get("content-length"), null);
  const res = await app().request(req);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { bytes: LIMIT - 10 });
});

Deno.test("a streamed body without Content-Length is counted: over the limit → 413", async () => {
  const req = new Request("http://x/b/echo", { method: "POST", body: stream(LIMIT * 50) });
  const res = await app().request(req);
  assert.equal(res.status, 413);
  assert.equal((await errorBody(res)).code, "REQUEST_TOO_LARGE");
});

Deno.test("a lying (small) Content-Length does not bypass the count", async () => {
  const req = new Request("http://x/b/echo", {
    method: "POST",
    body: stream(LIMIT * 3),
    headers: { "content-length": "10" },
  });
  const res = await app().request(req);
  assert.equal(res.status, 413);
  await res.body?.cancel();
});

Deno.test("the buffered body is still readable as JSON by validators", async () => {
  const res = await app().request("/b/json", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ s: "hello" }),
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { len: 5 });
});

Deno.test("through a real server: chunked upload over the limit → 413", async () => {
  const a = app();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, a.fetch);
  try {
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/b/echo`, {
      method: "POST",
      body: stream(LIMIT * 20, 512),
    });
    assert.equal(res.status, 413);
    assert.equal((await errorBody(res)).code, "REQUEST_TOO_LARGE");
  } finally {
    await server.shutdown();
  }
});

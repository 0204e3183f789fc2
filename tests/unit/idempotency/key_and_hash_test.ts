import assert from "node:assert/strict";
import { Hono } from "hono";
import {
  hashRequest,
  isWellFormedIdempotencyKey,
  readIdempotencyKey,
  requestHash,
  requireIdempotencyKey,
} from "../../../functions/_shared/idempotency/mod.ts";
import { ApiError } from "../../../functions/_shared/http/errors.ts";

Deno.test("idempotency key: 1..255 visible ASCII, inner spaces allowed", () => {
  for (
    const ok of ["a", "x".repeat(255), "order 42", "550e8400-e29b-41d4-a716-446655440000", "~!@#"]
  ) {
    assert.equal(isWellFormedIdempotencyKey(ok), true, ok);
  }
  for (const bad of ["", "x".repeat(256), " a", "a ", "tab\tx", "new\nline", "ü", "\u0000"]) {
    assert.equal(isWellFormedIdempotencyKey(bad), false, JSON.stringify(bad));
  }
});

async function keyOf(headers: Record<string, string>, fn = readIdempotencyKey) {
  const app = new Hono();
  let result: unknown;
  app.post("/", (c) => {
    try {
      result = fn(c);
    } catch (err) {
      result = err;
    }
    return c.text("ok");
  });
  await app.request("/", { method: "POST", headers });
  return result;
}

Deno.test("readIdempotencyKey: null when absent, the value when valid, 400 when malformed", async () => {
  assert.equal(await keyOf({}), null);
  assert.equal(await keyOf({ "Idempotency-Key": "abc" }), "abc");
  const err = await keyOf({ "Idempotency-Key": "x".repeat(300) });
  assert.ok(err instanceof ApiError);
  assert.equal(err.code, "VALIDATION_FAILED");
  assert.equal(JSON.stringify(err.details).includes("xxxx"), false, "the value is not echoed");
});

Deno.test("requireIdempotencyKey: a missing key is 400", async () => {
  const err = await keyOf({}, requireIdempotencyKey);
  assert.ok(err instanceof ApiError);
  assert.equal(err.code, "VALIDATION_FAILED");
  assert.equal(await keyOf({ "Idempotency-Key": "k" }, requireIdempotencyKey), "k");
});

Deno.test("requestHash: covers method, path, extra parts and body, unambiguously", async () => {
  const base = await requestHash("POST", "/jobs", '{"amount":1}');
  assert.match(base, /^[0-9a-f]{64}$/);
  assert.equal(await requestHash("post", "/jobs", '{"amount":1}'), base, "method case-insensitive");
  const variants = await Promise.all([
    requestHash("PUT", "/jobs", '{"amount":1}'),
    requestHash("POST", "/jobs/x", '{"amount":1}'),
    requestHash("POST", "/jobs", '{"amount":2}'),
    requestHash("POST", "/jobs", '{"amount":1}', ["device"]),
    requestHash("POST", "/jobs", '{"amount":1}', [""]),
  ]);
  assert.equal(new Set([base, ...variants]).size, 6);
  // Moving bytes between parts must change the hash.
  assert.notEqual(await requestHash("POST", "/a", "b"), await requestHash("POST", "/", "ab"));
  assert.notEqual(
    await requestHash("POST", "/a", "", ["b"]),
    await requestHash("POST", "/a", "b", [""]),
  );
});

Deno.test("hashRequest: hashes the raw body and leaves it readable for the handler", async () => {
  const app = new Hono();
  let hash = "";
  let body: unknown;
  app.post("/p", async (c) => {
    hash = await hashRequest(c, ["dev"]);
    body = await c.req.json();
    return c.text("ok");
  });
  await app.request("/p?x=1", { method: "POST", body: '{"a":1}' });
  assert.deepEqual(body, { a: 1 });
  assert.equal(hash, await requestHash("POST", "/p?x=1", '{"a":1}', ["dev"]));
});

import assert from "node:assert/strict";
import { HTTPException } from "hono/http-exception";
import { createBaseApp } from "../../../functions/_shared/http/app.ts";
import { captureLogger, errorBody, testConfig } from "./helpers.ts";

function app() {
  const logs = captureLogger();
  const a = createBaseApp("things", { config: testConfig(), logger: logs.logger });
  a.get("/items/:id", (c) => c.json({ id: c.req.param("id") }));
  a.post("/items", (c) => c.json({ created: true }, 201));
  a.delete("/items/:id", (c) => c.body(null, 204));
  a.get("/crash", () => {
    const err = new Error("database password=hunter2 exploded at /srv/secret/path");
    (err as Error & { cause: unknown }).cause = new Error("Bearer abc.def.ghi-token");
    throw err;
  });
  a.get("/http-exception", () => {
    throw new HTTPException(400, { message: "Malformed JSON in request body" });
  });
  return { app: a, logs };
}

Deno.test("routes answer under the function's base path", async () => {
  const { app: a } = app();
  const res = await a.request("/things/items/42");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { id: "42" });
});

Deno.test("unknown path → 404 NOT_FOUND in the envelope", async () => {
  const { app: a } = app();
  const res = await a.request("/things/nope");
  assert.equal(res.status, 404);
  const err = await errorBody(res);
  assert.equal(err.code, "NOT_FOUND");
  assert.equal(err.requestId, res.headers.get("x-request-id"));
});

Deno.test("a path outside the base path is still a 404 envelope with security headers", async () => {
  const { app: a } = app();
  const res = await a.request("/other");
  assert.equal(res.status, 404);
  assert.equal((await errorBody(res)).code, "NOT_FOUND");
  assert.equal(res.headers.get("x-frame-options"), "DENY");
});

Deno.test("known path, wrong method → 405 METHOD_NOT_ALLOWED with Allow", async () => {
  const { app: a } = app();
  const res = await a.request("/things/items/42", { method: "PUT" });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "DELETE, GET, HEAD, OPTIONS");
  const err = await errorBody(res);
  assert.equal(err.code, "METHOD_NOT_ALLOWED");
  assert.deepEqual(err.details, { allow: ["DELETE", "GET", "HEAD", "OPTIONS"] });

  const res2 = await a.request("/things/items", { method: "GET" });
  assert.equal(res2.status, 405);
  assert.equal(res2.headers.get("allow"), "OPTIONS, POST");
  await res2.body?.cancel();
});

Deno.test("HEAD on a GET route is answered, not 405", async () => {
  const { app: a } = app();
  const res = await a.request("/things/items/1", { method: "HEAD" });
  assert.equal(res.status, 200);
  await res.body?.cancel();
});

Deno.test("plain OPTIONS on a known path → 204 with Allow", async () => {
  const { app: a } = app();
  const res = await a.request("/things/items", { method: "OPTIONS" });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("allow"), "OPTIONS, POST");
});

Deno.test("an unexpected error → 500 INTERNAL without internals, logged with stack, redacted", async () => {
  const { app: a, logs } = app();
  const res = await a.request("/things/crash", { headers: { "X-Request-Id": "crash-req-1" } });
  assert.equal(res.status, 500);
  const text = await res.text();
  assert.deepEqual(JSON.parse(text), {
    error: { code: "INTERNAL", message: "Internal error", requestId: "crash-req-1" },
  });
  assert.ok(!text.includes("exploded") && !text.includes("hunter2") && !text.includes("stack"));

  const failure = logs.lines.find((l) => l.msg === "request failed");
  assert.ok(failure, "the error is logged");
  assert.equal(failure.requestId, "crash-req-1");
  assert.equal(failure.level, "error");
  const error = failure.error as { message: string; stack: string; cause: { message: string } };
  assert.match(error.message, /exploded/);
  assert.match(error.stack, /routing_test\.ts/);
  assert.equal(error.cause.message, "Bearer [REDACTED]");
  const line = logs.raw.join("\n");
  assert.ok(!line.includes("abc.def.ghi-token"));
});

Deno.test("a framework HTTPException maps to the code for its status", async () => {
  const { app: a } = app();
  const res = await a.request("/things/http-exception");
  assert.equal(res.status, 400);
  const err = await errorBody(res);
  assert.equal(err.code, "VALIDATION_FAILED");
  assert.equal(err.message, "Malformed JSON in request body");
});

import assert from "node:assert/strict";
import { createBaseApp } from "../../../functions/_shared/http/app.ts";
import { ApiError } from "../../../functions/_shared/http/errors.ts";
import { isWellFormedRequestId } from "../../../functions/_shared/http/request-id/index.ts";
import { captureLogger, errorBody, testConfig } from "./helpers.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function app() {
  const logs = captureLogger();
  const a = createBaseApp("rid", { config: testConfig(), logger: logs.logger });
  a.get("/echo", (c) => c.json({ id: c.var.requestId }));
  a.get("/fail", () => {
    throw new ApiError("CONFLICT", "taken");
  });
  return { app: a, logs };
}

Deno.test("well-formed ids: 8..128 of [A-Za-z0-9._-]", () => {
  for (const ok of ["abcdefgh", "a".repeat(128), crypto.randomUUID(), "01HZX.trace_1-2"]) {
    assert.ok(isWellFormedRequestId(ok), ok);
  }
  for (
    const bad of [
      "short",
      "a".repeat(129),
      "has space 123",
      "new\nline-12345",
      "semi;colon1",
      "",
      null,
    ]
  ) {
    assert.ok(!isWellFormedRequestId(bad), String(bad));
  }
});

Deno.test("a well-formed incoming X-Request-Id is kept: c.var, header, body and log", async () => {
  const { app: a, logs } = app();
  const res = await a.request("/rid/echo", { headers: { "X-Request-Id": "client-req-0001" } });
  assert.equal(res.headers.get("x-request-id"), "client-req-0001");
  assert.deepEqual(await res.json(), { id: "client-req-0001" });
  assert.equal(logs.lines.at(-1)?.requestId, "client-req-0001");
});

Deno.test("a malformed incoming X-Request-Id is replaced by a UUID", async () => {
  const { app: a } = app();
  for (const bad of ["short", "x".repeat(200), "bad id with spaces"]) {
    const res = await a.request("/rid/echo", { headers: { "X-Request-Id": bad } });
    const id = res.headers.get("x-request-id") ?? "";
    assert.match(id, UUID);
    assert.deepEqual(await res.json(), { id });
  }
});

Deno.test("no incoming id → a fresh UUID per request", async () => {
  const { app: a } = app();
  const one = (await a.request("/rid/echo")).headers.get("x-request-id") ?? "";
  const two = (await a.request("/rid/echo")).headers.get("x-request-id") ?? "";
  assert.match(one, UUID);
  assert.notEqual(one, two);
});

Deno.test("the error body carries the same request id as the header", async () => {
  const { app: a } = app();
  const res = await a.request("/rid/fail");
  assert.equal((await errorBody(res)).requestId, res.headers.get("x-request-id"));
});

import assert from "node:assert/strict";
import { z } from "zod";
import { createBaseApp } from "../../../functions/_shared/http/app.ts";
import { jsonDepth, validate } from "../../../functions/_shared/http/validate/index.ts";
import { captureLogger, errorBody, testConfig } from "./helpers.ts";

const body = z.object({
  amount: z.number().int().positive(),
  note: z.string().max(10).optional(),
  meta: z.object({ tag: z.string() }).strict().optional(),
});

function app(env: Record<string, string> = {}) {
  const a = createBaseApp("v", { config: testConfig(env), logger: captureLogger().logger });
  a.post("/items", validate("json", body), (c) => c.json(c.req.valid("json")));
  a.post(
    "/open",
    validate("json", z.object({ a: z.number() }).passthrough()),
    (c) => c.json(c.req.valid("json")),
  );
  a.post("/any", validate("json", z.unknown()), (c) => c.json({ ok: true }));
  a.get(
    "/search",
    validate(
      "query",
      z.object({ limit: z.coerce.number().int().max(100).optional(), tag: z.string().optional() }),
    ),
    (c) => c.json(c.req.valid("query")),
  );
  a.get(
    "/items/:id",
    validate("param", z.object({ id: z.string().uuid() })),
    (c) => c.json(c.req.valid("param")),
  );
  return a;
}

function post(path: string, payload: string, contentType: string | null = "application/json") {
  const headers: Record<string, string> = {};
  if (contentType) headers["content-type"] = contentType;
  return app().request(`/v${path}`, { method: "POST", body: payload, headers });
}

Deno.test("a valid JSON body reaches the handler typed", async () => {
  const res = await post("/items", JSON.stringify({ amount: 5, meta: { tag: "a" } }));
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { amount: 5, meta: { tag: "a" } });
});

Deno.test("application/json with charset and +json types are accepted", async () => {
  for (const ct of ["application/json; charset=utf-8", "application/vnd.api+json"]) {
    const res = await post("/items", JSON.stringify({ amount: 1 }), ct);
    assert.equal(res.status, 200, ct);
    await res.body?.cancel();
  }
});

Deno.test("a non-JSON content type where JSON is expected → 415", async () => {
  for (
    const ct of [
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      null,
    ]
  ) {
    const res = await post("/items", JSON.stringify({ amount: 1 }), ct);
    assert.equal(res.status, 415, String(ct));
    assert.equal((await errorBody(res)).code, "UNSUPPORTED_MEDIA_TYPE");
  }
});

Deno.test("malformed JSON → 400 VALIDATION_FAILED (malformed_json)", async () => {
  const res = await post("/items", '{"amount": ');
  assert.equal(res.status, 400);
  const err = await errorBody(res);
  assert.equal(err.code, "VALIDATION_FAILED");
  assert.deepEqual(err.details, { reason: "malformed_json" });
});

Deno.test("an empty body where JSON is expected → 400", async () => {
  const res = await post("/items", "");
  assert.equal(res.status, 400);
  assert.deepEqual((await errorBody(res)).details, { reason: "empty_body" });
});

Deno.test("depth: 10 levels pass, 11 → 400 json_too_deep (default limit 10)", async () => {
  const nest = (n: number) => "[".repeat(n) + "]".repeat(n);
  assert.equal(jsonDepth(nest(10)), 10);
  const ok = await post("/any", nest(10));
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  const deep = await post("/any", nest(11));
  assert.equal(deep.status, 400);
  assert.deepEqual((await errorBody(deep)).details, { reason: "json_too_deep", maxDepth: 10 });
});

Deno.test("depth counts objects and arrays, ignores brackets inside strings", async () => {
  assert.equal(jsonDepth('{"a":[{"b":"[[[[{{{{"}]}'), 3);
  assert.equal(jsonDepth('{"a":"\\"[[["}'), 1);
  assert.equal(jsonDepth("42"), 0);
  // A huge nesting is refused without ever being parsed.
  const res = await post("/any", "[".repeat(200_000) + "]".repeat(200_000));
  assert.equal(res.status, 400);
  assert.equal((await errorBody(res)).details?.reason, "json_too_deep");
});

Deno.test("MAX_JSON_DEPTH configures the limit", async () => {
  const a = app({ MAX_JSON_DEPTH: "2" });
  const res = await a.request("/v/any", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: '{"a":{"b":{}}}',
  });
  assert.equal(res.status, 400);
  assert.deepEqual((await errorBody(res)).details, { reason: "json_too_deep", maxDepth: 2 });
});

Deno.test("unknown fields are rejected with their paths (top level made strict)", async () => {
  const res = await post(
    "/items",
    JSON.stringify({ amount: 1, extra: 1, meta: { tag: "t", x: 2 } }),
  );
  assert.equal(res.status, 400);
  const err = await errorBody(res);
  assert.equal(err.code, "VALIDATION_FAILED");
  const fields = err.details?.fields as { path: string }[];
  assert.deepEqual(fields.map((f) => f.path).sort(), ["extra", "meta.x"]);
});

Deno.test("an explicit passthrough schema keeps unknown fields", async () => {
  const res = await post("/open", JSON.stringify({ a: 1, b: 2 }));
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { a: 1, b: 2 });
});

Deno.test("wrong types and missing fields list each path; values are not echoed", async () => {
  const res = await post("/items", JSON.stringify({ note: "secret-value-xyz-too-long" }));
  assert.equal(res.status, 400);
  const text = await res.text();
  assert.ok(!text.includes("secret-value-xyz"));
  const fields = JSON.parse(text).error.details.fields as { path: string }[];
  assert.deepEqual(fields.map((f) => f.path).sort(), ["amount", "note"]);
});

Deno.test("query parameters are validated strictly", async () => {
  const a = app();
  const ok = await a.request("/v/search?limit=5&tag=x");
  assert.deepEqual(await ok.json(), { limit: 5, tag: "x" });
  const bad = await a.request("/v/search?limit=500&debug=1");
  assert.equal(bad.status, 400);
  const fields = (await errorBody(bad)).details?.fields as { path: string }[];
  assert.deepEqual(fields.map((f) => f.path).sort(), ["debug", "limit"]);
});

Deno.test("path parameters are validated", async () => {
  const a = app();
  const id = crypto.randomUUID();
  const ok = await a.request(`/v/items/${id}`);
  assert.deepEqual(await ok.json(), { id });
  const bad = await a.request("/v/items/not-a-uuid");
  assert.equal(bad.status, 400);
  const fields = (await errorBody(bad)).details?.fields as { path: string }[];
  assert.deepEqual(fields.map((f) => f.path), ["id"]);
});

/** The local gateway behaves like Supabase's: prefix stripped, JWKS served, unknown names 404. */
import assert from "node:assert/strict";
import { fnUrl, testEnv } from "../support/env.ts";

Deno.test("gateway: /functions/v1/health reaches the health function", async () => {
  const res = await fetch(fnUrl("/health"));
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.ok, true);
  assert.equal(typeof body.ts, "number");
  assert.ok(res.headers.get("x-request-id"));
});

Deno.test("gateway: deep health times a database round trip and names the migration", async () => {
  const res = await fetch(fnUrl("/health?deep=1"));
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.ok, true);
  assert.match(JSON.stringify(body), /2026\d{10}/);
});

Deno.test("gateway: an unknown function is a 404 in the error envelope", async () => {
  const res = await fetch(fnUrl("/no-such-function/x"));
  assert.equal(res.status, 404);
  const body = await res.json();
  assert.equal(body.error.code, "NOT_FOUND");
  assert.equal(typeof body.error.requestId, "string");
});

Deno.test("gateway: a known route with the wrong method is 405", async () => {
  const res = await fetch(fnUrl("/health"), { method: "DELETE" });
  assert.equal(res.status, 405);
  const body = await res.json();
  assert.equal(body.error.code, "METHOD_NOT_ALLOWED");
});

Deno.test("gateway: serves the project's JWKS with one ES256 key", async () => {
  const res = await fetch(`${testEnv("TEST_BASE_URL")}/auth/v1/.well-known/jwks.json`);
  assert.equal(res.status, 200);
  const { keys } = await res.json();
  assert.equal(keys.length, 1);
  assert.equal(keys[0].alg, "ES256");
  assert.equal(keys[0].d, undefined, "the private part never leaves the gateway");
});

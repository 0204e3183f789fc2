import assert from "node:assert/strict";
import { createBaseApp } from "../../../functions/_shared/http/app.ts";
import { ApiError } from "../../../functions/_shared/http/errors.ts";
import { captureLogger, testConfig } from "./helpers.ts";

const ALLOWED = "https://app.example.com";
const EXPOSED = "X-Request-Id, RateLimit, RateLimit-Policy, Retry-After, Idempotent-Replayed";
const ALLOW_HEADERS =
  "Authorization, Content-Type, X-Device-Id, X-Job-Id, X-Job-Token, Idempotency-Key, X-Request-Id, X-Admin-Secret, apikey, x-client-info";

function app(origins = "https://app.example.com,http://localhost:3000") {
  const a = createBaseApp("c", {
    config: testConfig({ CORS_ORIGINS: origins }),
    logger: captureLogger().logger,
  });
  a.get("/x", (c) => c.json({ ok: true }));
  a.post("/x", (c) => c.json({ ok: true }));
  a.get("/leaky", (c) => {
    c.header("Access-Control-Allow-Origin", "*");
    return c.json({ ok: true });
  });
  a.get("/fail", () => {
    throw new ApiError("UNAUTHORIZED", "no", { reason: "missing_token" });
  });
  return a;
}

Deno.test("an allowed origin is echoed exactly, with exposed headers and Vary", async () => {
  const res = await app().request("/c/x", { headers: { Origin: ALLOWED } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("access-control-allow-origin"), ALLOWED);
  assert.equal(res.headers.get("access-control-expose-headers"), EXPOSED);
  assert.equal(res.headers.get("access-control-allow-credentials"), null);
  assert.match(res.headers.get("vary") ?? "", /Origin/);
  await res.body?.cancel();
});

Deno.test("a disallowed origin gets no Access-Control-* header at all", async () => {
  for (
    const origin of [
      "https://evil.example.com",
      "https://app.example.com.evil.com",
      "null",
      "http://app.example.com",
    ]
  ) {
    const res = await app().request("/c/x", { headers: { Origin: origin } });
    assert.equal(res.status, 200);
    const acHeaders = [...res.headers.keys()].filter((k) => k.startsWith("access-control-"));
    assert.deepEqual(acHeaders, [], origin);
    assert.match(res.headers.get("vary") ?? "", /Origin/);
    await res.body?.cancel();
  }
});

Deno.test("a handler's own CORS header never leaks to a disallowed origin", async () => {
  const res = await app().request("/c/leaky", { headers: { Origin: "https://evil.example.com" } });
  assert.equal(res.headers.get("access-control-allow-origin"), null);
  await res.body?.cancel();
});

Deno.test("error responses carry CORS headers too (browsers can read the envelope)", async () => {
  const res = await app().request("/c/fail", { headers: { Origin: ALLOWED } });
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("access-control-allow-origin"), ALLOWED);
  await res.body?.cancel();
});

Deno.test("preflight from an allowed origin → 204 with methods, headers, max-age", async () => {
  const res = await app().request("/c/x", {
    method: "OPTIONS",
    headers: {
      Origin: ALLOWED,
      "Access-Control-Request-Method": "POST",
      "Access-Control-Request-Headers": "authorization, content-type",
    },
  });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("access-control-allow-origin"), ALLOWED);
  assert.equal(
    res.headers.get("access-control-allow-methods"),
    "GET, POST, PUT, PATCH, DELETE, OPTIONS",
  );
  assert.equal(res.headers.get("access-control-allow-headers"), ALLOW_HEADERS);
  assert.equal(res.headers.get("access-control-max-age"), "600");
  assert.match(res.headers.get("vary") ?? "", /Origin/);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.ok(res.headers.get("x-request-id"));
});

Deno.test("preflight from a disallowed origin → 204 without any Access-Control-* header", async () => {
  const res = await app().request("/c/x", {
    method: "OPTIONS",
    headers: { Origin: "https://evil.example.com", "Access-Control-Request-Method": "POST" },
  });
  assert.equal(res.status, 204);
  const acHeaders = [...res.headers.keys()].filter((k) => k.startsWith("access-control-"));
  assert.deepEqual(acHeaders, []);
});

Deno.test("no Origin header → no CORS headers (non-browser client)", async () => {
  const res = await app().request("/c/x");
  assert.equal(res.headers.get("access-control-allow-origin"), null);
  await res.body?.cancel();
});

Deno.test("wildcard (development only) answers *", async () => {
  const res = await app("*").request("/c/x", { headers: { Origin: "https://anything.example" } });
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  await res.body?.cancel();
});

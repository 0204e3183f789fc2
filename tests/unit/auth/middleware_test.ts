import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { auth, bearerToken } from "../../../functions/_shared/auth/middleware/index.ts";
import { DEV_JWT_SECRET } from "../../../functions/_shared/config.ts";
import { createBaseApp } from "../../../functions/_shared/http/app.ts";
import { captureLogger, errorBody, testConfig } from "../http/helpers.ts";

const SUPABASE_URL = "http://127.0.0.1:54321";

async function token(overrides: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return await new SignJWT({
    sub: crypto.randomUUID(),
    aud: "authenticated",
    iss: `${SUPABASE_URL}/auth/v1`,
    role: "authenticated",
    exp: now + 600,
    ...overrides,
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(DEV_JWT_SECRET));
}

function app() {
  const logs = captureLogger();
  // Default verifier from config: development HS256 secret, JWKS URL that nothing serves.
  const a = createBaseApp("me", { config: testConfig(), logger: logs.logger });
  a.get("/whoami", auth(), (c) =>
    c.json({
      account: c.var.account,
      isAnonymous: c.var.isAnonymous,
      deviceId: c.var.deviceId,
      role: c.var.claims.role,
    }));
  a.get("/public", (c) => c.json({ account: c.var.account ?? null }));
  return { app: a, logs };
}

Deno.test("bearerToken parses the Authorization header", () => {
  assert.equal(bearerToken("Bearer abc"), "abc");
  assert.equal(bearerToken("bearer abc"), "abc");
  assert.equal(bearerToken("Basic abc"), null);
  assert.equal(bearerToken("Bearer"), null);
  assert.equal(bearerToken("Bearer a b"), null);
  assert.equal(bearerToken(undefined), null);
});

Deno.test("a valid token sets account, claims, isAnonymous and deviceId", async () => {
  const sub = crypto.randomUUID();
  const { app: a, logs } = app();
  const res = await a.request("/me/whoami", {
    headers: {
      Authorization: `Bearer ${await token({ sub, is_anonymous: true })}`,
      "X-Device-Id": "ios:ABC-123_x.y",
    },
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    account: sub,
    isAnonymous: true,
    deviceId: "ios:ABC-123_x.y",
    role: "authenticated",
  });
  assert.equal(logs.lines.at(-1)?.account, sub);
});

Deno.test("no X-Device-Id → deviceId null", async () => {
  const { app: a } = app();
  const res = await a.request("/me/whoami", {
    headers: { Authorization: `Bearer ${await token()}` },
  });
  assert.equal((await res.json()).deviceId, null);
});

Deno.test("a malformed X-Device-Id → 400 VALIDATION_FAILED", async () => {
  const { app: a } = app();
  for (const device of ["", "x".repeat(129), "has space", "latin-\u00fc", "semi;colon"]) {
    const res = await a.request("/me/whoami", {
      headers: { Authorization: `Bearer ${await token()}`, "X-Device-Id": device },
    });
    assert.equal(res.status, 400, JSON.stringify(device));
    assert.equal((await errorBody(res)).code, "VALIDATION_FAILED");
  }
});

Deno.test("no token → 401 missing_token with a plain Bearer challenge", async () => {
  const { app: a } = app();
  const res = await a.request("/me/whoami");
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="tollgate"');
  const err = await errorBody(res);
  assert.equal(err.code, "UNAUTHORIZED");
  assert.deepEqual(err.details, { reason: "missing_token" });
});

Deno.test("a non-Bearer Authorization header → 401 malformed", async () => {
  const { app: a } = app();
  const res = await a.request("/me/whoami", { headers: { Authorization: "Basic dXNlcjpwYXNz" } });
  assert.equal(res.status, 401);
  assert.deepEqual((await errorBody(res)).details, { reason: "malformed" });
});

Deno.test("an expired token → 401 token_expired with invalid_token challenge, token never echoed or logged", async () => {
  const { app: a, logs } = app();
  const bad = await token({ exp: Math.floor(Date.now() / 1000) - 120 });
  const res = await a.request("/me/whoami", { headers: { Authorization: `Bearer ${bad}` } });
  assert.equal(res.status, 401);
  assert.equal(
    res.headers.get("www-authenticate"),
    'Bearer realm="tollgate", error="invalid_token", error_description="token_expired"',
  );
  const text = await res.text();
  assert.ok(!text.includes(bad));
  assert.equal(JSON.parse(text).error.details.reason, "token_expired");
  assert.ok(!logs.raw.join("\n").includes(bad));
});

Deno.test("the service-role key is not a user", async () => {
  const { app: a } = app();
  const res = await a.request("/me/whoami", {
    headers: { Authorization: `Bearer ${await token({ role: "service_role" })}` },
  });
  assert.equal(res.status, 401);
  assert.deepEqual((await errorBody(res)).details, { reason: "service_role_not_allowed" });
});

Deno.test("routes without auth() do not require a token", async () => {
  const { app: a } = app();
  const res = await a.request("/me/public");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { account: null });
});

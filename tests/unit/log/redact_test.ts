import assert from "node:assert/strict";
import { redact, REDACTED, redactString } from "../../../functions/_shared/log/redact.ts";

const JWT =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwicm9sZSI6ImF1dGhlbnRpY2F0ZWQifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

Deno.test("secret keys are redacted wherever they appear, in any case or spelling", () => {
  const keys = [
    "authorization",
    "Authorization",
    "proxy-authorization",
    "cookie",
    "Set-Cookie",
    "x-admin-secret",
    "X-Job-Token",
    "apikey",
    "api_key",
    "API-Key",
    "password",
    "secret",
    "token",
    "code",
    "promoCode",
    "private_key",
    "APPSTORE_PRIVATE_KEY",
    "jobToken",
    "ADMIN_SECRET",
    "openai_api_key",
    "client_secret",
    "refresh_token",
  ];
  for (const key of keys) {
    const out = redact({ outer: { [key]: "value-1234" }, list: [{ [key]: 42 }] }) as {
      outer: Record<string, unknown>;
      list: Record<string, unknown>[];
    };
    assert.equal(out.outer[key], REDACTED, key);
    assert.equal(out.list[0][key], REDACTED, key);
  }
});

Deno.test("ordinary keys are left alone", () => {
  const input = {
    max_tokens: 10,
    completion_tokens: 3,
    model: "gpt",
    errorCode: "CONFLICT",
    status: 200,
  };
  assert.deepEqual(redact(input), input);
});

Deno.test("JWTs inside strings are redacted", () => {
  assert.equal(redactString(`token was ${JWT} ok`), `token was ${REDACTED} ok`);
  const noEyJ = `${"a".repeat(20)}.${"b".repeat(20)}.${"c".repeat(20)}`;
  assert.equal(redactString(`x ${noEyJ} y`), `x ${REDACTED} y`);
});

Deno.test("Bearer and Basic credentials inside strings are redacted", () => {
  assert.equal(
    redactString("Authorization: Bearer abc123.def_456"),
    `Authorization: Bearer ${REDACTED}`,
  );
  assert.equal(redactString("bearer xyz"), `bearer ${REDACTED}`);
  assert.equal(redactString("Basic dXNlcjpwYXNz"), `Basic ${REDACTED}`);
});

Deno.test("API keys (sk-…, Stripe) inside strings are redacted", () => {
  assert.equal(redactString("key sk-proj-AbCdEf1234567890xyz used"), `key ${REDACTED} used`);
  assert.equal(redactString("sk-1234567890abcdef"), REDACTED);
  assert.equal(redactString("sk_live_51Habcdefghijkl"), REDACTED);
  assert.equal(redactString("whsec_test_abcdefghijkl"), REDACTED);
});

Deno.test("passwords inside connection URLs are redacted", () => {
  assert.equal(
    redactString("connect postgres://tollgate_api:s3cr3t@db.example:6543/postgres failed"),
    `connect postgres://tollgate_api:${REDACTED}@db.example:6543/postgres failed`,
  );
});

Deno.test("PEM private keys are redacted", () => {
  const pem = "-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----";
  assert.equal(redactString(`key: ${pem} end`), `key: ${REDACTED} end`);
});

Deno.test("plain text, ids and URLs survive", () => {
  const s = "GET /jobs/6f1c2a4e-8b7d-4c3e-9a10-1234567890ab from api.openai.com took 12 ms";
  assert.equal(redactString(s), s);
});

Deno.test("errors: message, stack and the whole cause chain are redacted", () => {
  const root = new Error(`upstream said Bearer ${JWT}`);
  const mid = new Error("wrapped sk-abcdefghijklmnop", { cause: root });
  const top = new Error("request failed", { cause: mid });
  Object.assign(top, { headers: { authorization: "Bearer x" }, code: "ECONNREFUSED" });
  const out = redact(top) as Record<string, unknown>;
  const text = JSON.stringify(out);
  assert.ok(!text.includes(JWT.split(".")[2]), text);
  assert.ok(!text.includes("sk-abcdefghijklmnop"));
  assert.equal(out.code, "ECONNREFUSED");
  assert.deepEqual(out.headers, { authorization: REDACTED });
  const cause = out.cause as Record<string, unknown>;
  assert.equal(cause.message, `wrapped ${REDACTED}`);
  assert.equal(
    (cause.cause as Record<string, unknown>).message,
    `upstream said Bearer ${REDACTED}`,
  );
  assert.match(String(out.stack), /redact_test\.ts/);
});

Deno.test("Headers and Maps are walked like objects", () => {
  const h = new Headers({ Authorization: "Bearer abc", "X-Request-Id": "r-12345678" });
  assert.deepEqual(redact(h), { authorization: REDACTED, "x-request-id": "r-12345678" });
  assert.deepEqual(redact(new Map([["cookie", "a=b"]])), { cookie: REDACTED });
});

Deno.test("cycles and deep graphs do not crash", () => {
  const a: Record<string, unknown> = { name: "a" };
  a.self = a;
  assert.deepEqual(redact(a), { name: "a", self: "[Circular]" });
  let deep: Record<string, unknown> = {};
  const top = deep;
  for (let i = 0; i < 50; i++) deep = (deep.next = {}) as Record<string, unknown>;
  assert.match(JSON.stringify(redact(top)), /\[Truncated\]/);
});

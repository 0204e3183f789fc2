import assert from "node:assert/strict";
import {
  ApiError,
  ERROR_STATUS,
  type ErrorCode,
  errorResponse,
  isErrorCode,
} from "../../../functions/_shared/http/errors.ts";
import { createBaseApp } from "../../../functions/_shared/http/app.ts";
import { captureLogger, errorBody, testConfig } from "./helpers.ts";

const EXPECTED: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  MODEL_NOT_ALLOWED: 400,
  UNAUTHORIZED: 401,
  INSUFFICIENT_CREDITS: 402,
  FORBIDDEN: 403,
  BLOCKED: 403,
  NOT_FOUND: 404,
  JOB_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  JOB_NOT_PENDING: 409,
  IDEMPOTENCY_KEY_IN_USE: 409,
  JOB_EXPIRED: 410,
  REQUEST_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE: 422,
  IDEMPOTENCY_KEY_REUSED: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  BAD_GATEWAY: 502,
  SERVICE_UNAVAILABLE: 503,
  MAINTENANCE: 503,
  CIRCUIT_BREAKER_OPEN: 503,
  ADMIN_DISABLED: 503,
  TIMEOUT: 504,
};

Deno.test("the code table is exactly the agreed one", () => {
  assert.deepEqual({ ...ERROR_STATUS }, EXPECTED);
  assert.ok(isErrorCode("JOB_EXPIRED"));
  assert.ok(!isErrorCode("toString"));
  assert.ok(!isErrorCode("nope"));
});

for (const [code, status] of Object.entries(EXPECTED) as [ErrorCode, number][]) {
  Deno.test(`ApiError ${code} thrown by a handler → ${status} envelope`, async () => {
    const app = createBaseApp("t", { config: testConfig(), logger: captureLogger().logger });
    app.get("/boom", () => {
      throw new ApiError(code, `msg for ${code}`, { k: 1 });
    });
    const res = await app.request("/t/boom", { headers: { "X-Request-Id": "req-12345678" } });
    assert.equal(res.status, status);
    assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
    const body = await res.json();
    const message = status === 500 ? "msg for INTERNAL" : `msg for ${code}`;
    assert.deepEqual(body, {
      error: { code, message, requestId: "req-12345678", details: { k: 1 } },
    });
    assert.equal(res.headers.has("www-authenticate"), code === "UNAUTHORIZED");
  });
}

Deno.test("errorResponse builds the envelope without details when none given", async () => {
  const res = errorResponse("NOT_FOUND", 'No function named "x"', "rid-abcdefgh");
  assert.equal(res.status, 404);
  assert.equal(res.headers.get("x-request-id"), "rid-abcdefgh");
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.deepEqual(await res.json(), {
    error: { code: "NOT_FOUND", message: 'No function named "x"', requestId: "rid-abcdefgh" },
  });
});

Deno.test("401 carries a Bearer challenge: plain without token, invalid_token otherwise", async () => {
  const missing = errorResponse("UNAUTHORIZED", "m", "r", { reason: "missing_token" });
  assert.equal(missing.headers.get("www-authenticate"), 'Bearer realm="tollgate"');
  const expired = errorResponse("UNAUTHORIZED", "m", "r", { reason: "token_expired" });
  assert.equal(
    expired.headers.get("www-authenticate"),
    'Bearer realm="tollgate", error="invalid_token", error_description="token_expired"',
  );
  await missing.body?.cancel();
  await expired.body?.cancel();
});

Deno.test("ApiError headers (e.g. Retry-After) reach the response", async () => {
  const app = createBaseApp("t", { config: testConfig(), logger: captureLogger().logger });
  app.get("/slow", () => {
    throw new ApiError("RATE_LIMITED", "Slow down", undefined, { headers: { "Retry-After": "7" } });
  });
  const res = await app.request("/t/slow");
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), "7");
  assert.equal((await errorBody(res)).code, "RATE_LIMITED");
});

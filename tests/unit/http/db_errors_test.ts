import assert from "node:assert/strict";
import { mapDbError } from "../../../functions/_shared/db/errors.ts";
import { createBaseApp } from "../../../functions/_shared/http/app.ts";
import { ApiError } from "../../../functions/_shared/http/errors.ts";
import { captureLogger, errorBody, testConfig } from "./helpers.ts";

/** The shape postgres.js gives a server error. */
function pgError(fields: { code: string; message: string; detail?: string; hint?: string }): Error {
  const err = new Error(fields.message);
  err.name = "PostgresError";
  Object.assign(err, fields);
  return err;
}

function connError(code: string): Error {
  const err = new Error(`connect ${code} 127.0.0.1:1`);
  Object.assign(err, { code });
  return err;
}

Deno.test("a raised domain code maps to its status with the detail as message", () => {
  const cases: [string, number][] = [
    ["INSUFFICIENT_CREDITS", 402],
    ["JOB_NOT_FOUND", 404],
    ["JOB_NOT_PENDING", 409],
    ["JOB_EXPIRED", 410],
    ["IDEMPOTENCY_KEY_REUSED", 422],
    ["IDEMPOTENCY_KEY_IN_USE", 409],
    ["BLOCKED", 403],
    ["RATE_LIMITED", 429],
    ["MAINTENANCE", 503],
    ["VALIDATION_FAILED", 400],
  ];
  for (const [code, status] of cases) {
    const e = mapDbError(pgError({ code: "P0001", message: code, detail: `human ${code}` }));
    assert.ok(e instanceof ApiError);
    assert.equal(e.code, code);
    assert.equal(e.status, status);
    assert.equal(e.message, `human ${code}`);
  }
});

Deno.test("a JSON hint becomes details; retryAfterSeconds sets Retry-After", () => {
  const e = mapDbError(pgError({
    code: "P0001",
    message: "RATE_LIMITED",
    detail: "Too many requests",
    hint: '{"policy":"chat","retryAfterSeconds":12.2}',
  }));
  assert.deepEqual(e?.details, { policy: "chat", retryAfterSeconds: 12.2 });
  assert.equal(e?.headers["Retry-After"], "13");
});

Deno.test("a missing detail gets a readable default message", () => {
  const e = mapDbError(pgError({ code: "P0001", message: "JOB_EXPIRED" }));
  assert.equal(e?.message, "Job expired");
});

Deno.test("unknown P0001 messages and other SQL errors → INTERNAL with the cause kept", () => {
  for (
    const err of [
      pgError({ code: "P0001", message: "something else" }),
      pgError({ code: "42P01", message: 'relation "credits.accounts" does not exist' }),
      pgError({ code: "42501", message: "permission denied for table ledger" }),
      pgError({ code: "23505", message: "duplicate key value violates unique constraint" }),
    ]
  ) {
    const e = mapDbError(err);
    assert.equal(e?.code, "INTERNAL");
    assert.equal(e?.message, "Internal error");
    assert.equal(e?.cause, err);
  }
});

Deno.test("connection failures → 503 SERVICE_UNAVAILABLE", () => {
  for (
    const err of [
      connError("ECONNREFUSED"),
      connError("CONNECT_TIMEOUT"),
      connError("CONNECTION_CLOSED"),
      pgError({ code: "57P01", message: "terminating connection due to administrator command" }),
      pgError({ code: "53300", message: "too many connections" }),
      pgError({ code: "08006", message: "connection failure" }),
      new Deno.errors.ConnectionRefused("refused"),
    ]
  ) {
    const e = mapDbError(err);
    assert.equal(e?.code, "SERVICE_UNAVAILABLE", err.message);
    assert.equal(e?.status, 503);
  }
});

Deno.test("statement timeout → 504 TIMEOUT", () => {
  const e = mapDbError(
    pgError({ code: "57014", message: "canceling statement due to statement timeout" }),
  );
  assert.equal(e?.code, "TIMEOUT");
});

Deno.test("non-database errors are not mapped", () => {
  assert.equal(mapDbError(new Error("x")), null);
  assert.equal(mapDbError("string"), null);
  assert.equal(mapDbError(null), null);
});

Deno.test("the error handler maps database errors thrown by handlers", async () => {
  const logs = captureLogger();
  const app = createBaseApp("d", { config: testConfig(), logger: logs.logger });
  app.get("/credits", () => {
    throw pgError({
      code: "P0001",
      message: "INSUFFICIENT_CREDITS",
      detail: "Not enough credits",
      hint: '{"available":2}',
    });
  });
  app.get("/broken", () => {
    throw pgError({ code: "42P01", message: 'relation "credits.secret_table" does not exist' });
  });
  const res = await app.request("/d/credits");
  assert.equal(res.status, 402);
  const err = await errorBody(res);
  assert.equal(err.code, "INSUFFICIENT_CREDITS");
  assert.equal(err.message, "Not enough credits");
  assert.deepEqual(err.details, { available: 2 });

  const broken = await app.request("/d/broken");
  assert.equal(broken.status, 500);
  const text = await broken.text();
  assert.ok(!text.includes("secret_table"));
  const logged = logs.lines.find((l) => l.msg === "request failed");
  assert.match(JSON.stringify(logged), /secret_table/);
  assert.match(JSON.stringify(logged), /"code":"42P01"/);
});

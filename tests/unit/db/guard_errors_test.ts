import assert from "node:assert/strict";
import { guardError } from "../../../functions/_shared/db/guard_errors.ts";
import { mapDbError } from "../../../functions/_shared/db/errors.ts";

function pgError(message: string, detail?: string): Error {
  return Object.assign(new Error(message), { name: "PostgresError", code: "P0001", detail });
}

Deno.test("guardError: MAINTENANCE → 503 with Retry-After from the flag", () => {
  const err = guardError(pgError("MAINTENANCE", '{"flag":"jobs.start","retry_after":42}'));
  assert.ok(err);
  assert.equal(err.code, "MAINTENANCE");
  assert.equal(err.status, 503);
  assert.equal(err.headers["Retry-After"], "42");
  assert.deepEqual(err.details, { flag: "jobs.start", retryAfterSeconds: 42 });
  assert.equal(err.message.includes("{"), false, "the JSON detail is not the message");
});

Deno.test("guardError: RATE_LIMITED → 429 with Retry-After and RateLimit headers", () => {
  const detail = JSON.stringify({
    policy: "jobs.start",
    quota: 30,
    window: 60,
    remaining: 0,
    reset: 58,
    retry_after: 2,
  });
  const err = guardError(pgError("RATE_LIMITED", detail));
  assert.ok(err);
  assert.equal(err.status, 429);
  assert.equal(err.headers["Retry-After"], "2");
  assert.equal(err.headers["RateLimit-Policy"], '"jobs.start";q=30;w=60');
  assert.equal(err.headers["RateLimit"], '"jobs.start";r=0;t=58');
});

Deno.test("guardError: malformed details still give sane answers; other errors → null", () => {
  assert.equal(guardError(pgError("MAINTENANCE", "nope"))?.headers["Retry-After"], "60");
  assert.equal(guardError(pgError("RATE_LIMITED", "nope"))?.headers["Retry-After"], "1");
  assert.equal(guardError(pgError("JOB_NOT_FOUND", "no such job")), null);
  assert.equal(guardError(new Error("MAINTENANCE")), null, "not a database error");
  assert.equal(guardError("MAINTENANCE"), null);
});

Deno.test("mapDbError answers kill switches and rate limits with their retry data", () => {
  const maintenance = mapDbError(pgError("MAINTENANCE", '{"flag":"ai.chat","retry_after":30}'));
  assert.equal(maintenance?.status, 503);
  assert.equal(maintenance?.headers["Retry-After"], "30");
  assert.equal(maintenance?.details?.flag, "ai.chat");
  const detail = '{"policy":"chat","quota":60,"window":60,"remaining":0,"reset":12,"retry_after":2}';
  const limited = mapDbError(pgError("RATE_LIMITED", detail));
  assert.equal(limited?.status, 429);
  assert.equal(limited?.headers["Retry-After"], "2");
  assert.match(limited?.headers["RateLimit-Policy"] ?? "", /"chat";q=60;w=60/);
});

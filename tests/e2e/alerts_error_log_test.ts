/**
 * Unexpected errors (500 INTERNAL) land in ops.error_log — after the response, redacted, with
 * the request id — while expected errors (4xx) do not.
 */
import assert from "node:assert/strict";
import { flushAfterResponse } from "../../functions/_shared/audit/after_response.ts";
import { parseConfig } from "../../functions/_shared/config.ts";
import { endAllSql } from "../../functions/_shared/db/client.ts";
import {
  dbErrorLogWriter,
  type ErrorLogEntry,
  setErrorLogWriter,
} from "../../functions/_shared/errorlog/index.ts";
import { createBaseApp } from "../../functions/_shared/http/app.ts";
import { ApiError } from "../../functions/_shared/http/errors.ts";
import { createLogger } from "../../functions/_shared/log/logger.ts";
import { testEnv } from "../support/env.ts";
import { adminSql } from "../support/db.ts";

const DB_TEST = { sanitizeOps: false, sanitizeResources: false };

function crashingApp() {
  const config = parseConfig({
    ...Deno.env.toObject(),
    TOLLGATE_DB_URL: testEnv("TEST_API_DB_URL"),
  });
  const app = createBaseApp("errtest", { config, logger: createLogger({ sink: () => {} }) });
  app.get("/crash", () => {
    throw new Error(
      "boom with Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ and sk-live1234567890abcdef",
    );
  });
  app.get("/missing", () => {
    throw new ApiError("NOT_FOUND", "no such thing");
  });
  return app;
}

Deno.test(
  "error log: a 500 is written after the response, redacted, with its request id",
  DB_TEST,
  async () => {
    const db = adminSql(1);
    setErrorLogWriter(dbErrorLogWriter);
    try {
      const app = crashingApp();
      const requestId = `errlog-${crypto.randomUUID()}`;
      const res = await app.request("/errtest/crash", { headers: { "x-request-id": requestId } });
      assert.equal(res.status, 500);
      assert.equal((await res.json()).error.code, "INTERNAL");
      await flushAfterResponse();

      const rows = await db<
        {
          level: string;
          message: string;
          stack: string | null;
          function_name: string;
          metadata: Record<string, unknown>;
        }[]
      >`
      select level, message, stack, function_name, metadata from ops.error_log where request_id = ${requestId}`;
      assert.equal(rows.length, 1);
      const [row] = rows;
      assert.equal(row.level, "error");
      assert.equal(row.function_name, "errtest");
      assert.match(row.message, /^Error: boom with Bearer \[REDACTED\]/);
      assert.doesNotMatch(
        JSON.stringify(row),
        /eyJhbGciOiJIUzI1NiJ9|sk-live1234567890abcdef/,
        "no token or key is stored",
      );
      assert.match(
        String(row.stack),
        /boom with Bearer \[REDACTED\]/,
        "the (redacted) stack is kept",
      );
      assert.deepEqual(
        { method: row.metadata.method, path: row.metadata.path, errorCode: row.metadata.errorCode },
        { method: "GET", path: "/errtest/crash", errorCode: "INTERNAL" },
      );

      const expected = await app.request("/errtest/missing", {
        headers: { "x-request-id": `${requestId}-404` },
      });
      assert.equal(expected.status, 404);
      await expected.body?.cancel();
      await flushAfterResponse();
      const none = await db`select 1 from ops.error_log where request_id = ${`${requestId}-404`}`;
      assert.equal(none.length, 0, "expected errors (4xx) are not error-log rows");
    } finally {
      setErrorLogWriter(undefined);
      await endAllSql();
      await db.end({ timeout: 5 });
    }
  },
);

Deno.test("error log: the write never delays the response", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const written: ErrorLogEntry[] = [];
  setErrorLogWriter(async (entry) => {
    await gate; // a database that is slow to answer
    written.push(entry);
  });
  try {
    const res = await crashingApp().request("/errtest/crash");
    assert.equal(res.status, 500, "answered while the error-log write is still pending");
    await res.body?.cancel();
    assert.equal(written.length, 0);
    release();
    await flushAfterResponse();
    assert.equal(written.length, 1);
  } finally {
    setErrorLogWriter(undefined);
  }
});

import assert from "node:assert/strict";
import { createSql } from "../../../functions/_shared/db/client.ts";
import { createApp } from "../../../functions/health/app.ts";
import { captureLogger, closedPort, errorBody, testConfig } from "./helpers.ts";

Deno.test("GET /health → 200 {ok, ts, version} without auth or database", async () => {
  const config = testConfig({ TOLLGATE_VERSION: "9.9.9" });
  const sql = createSql(`postgres://tollgate_api:x@127.0.0.1:${closedPort()}/postgres`);
  const logs = captureLogger();
  try {
    const before = Date.now();
    const res = await createApp({ config, sql, logger: logs.logger }).request("/health");
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.deepEqual(Object.keys(body).sort(), ["ok", "ts", "version"]);
    assert.equal(body.ok, true);
    assert.equal(body.version, "9.9.9");
    assert.ok(body.ts >= before && body.ts <= Date.now());
  } finally {
    await sql.end({ timeout: 0 });
  }
});

Deno.test("GET /health?deep=1 with the database down → 503 SERVICE_UNAVAILABLE", async () => {
  const config = testConfig({
    TOLLGATE_DB_URL: `postgres://tollgate_api:x@127.0.0.1:${closedPort()}/postgres`,
  });
  const sql = createSql(config.TOLLGATE_DB_URL, { connectTimeoutSeconds: 2 });
  const logs = captureLogger();
  try {
    const res = await createApp({ config, sql, logger: logs.logger }).request("/health?deep=1");
    assert.equal(res.status, 503);
    const err = await errorBody(res);
    assert.equal(err.code, "SERVICE_UNAVAILABLE");
    assert.ok(!JSON.stringify(err).includes("ECONNREFUSED"));
    // The cause is logged (with the connection password redacted), not shown.
    const failure = logs.lines.find((l) => l.msg === "request failed");
    assert.ok(failure);
    assert.equal(failure.errorCode, "SERVICE_UNAVAILABLE");
    assert.ok(!logs.raw.join("\n").includes("tollgate_api:x@"));
  } finally {
    await sql.end({ timeout: 0 });
  }
});

Deno.test("unknown query parameters and wrong methods are refused", async () => {
  const sql = createSql(`postgres://tollgate_api:x@127.0.0.1:${closedPort()}/postgres`);
  const logs = captureLogger();
  try {
    const app = createApp({ config: testConfig(), sql, logger: logs.logger });
    const bad = await app.request("/health?deep=yes-please");
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
    const post = await app.request("/health", { method: "POST" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD, OPTIONS");
    await post.body?.cancel();
  } finally {
    await sql.end({ timeout: 0 });
  }
});

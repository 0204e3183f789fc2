import assert from "node:assert/strict";
import { createLogger } from "../../../functions/_shared/log/logger.ts";
import { createBaseApp } from "../../../functions/_shared/http/app.ts";
import { auth } from "../../../functions/_shared/auth/middleware/index.ts";
import type { Verifier } from "../../../functions/_shared/auth/verifier.ts";
import { captureLogger, testConfig } from "../http/helpers.ts";

Deno.test("one JSON object per line with ts and level, redacted", () => {
  const out: string[] = [];
  const log = createLogger({ level: "info", sink: (_l, line) => out.push(line) });
  log.info("hello", { authorization: "Bearer abc", n: 1 });
  assert.equal(out.length, 1);
  assert.ok(!out[0].includes("\n"));
  const line = JSON.parse(out[0]);
  assert.equal(line.level, "info");
  assert.equal(line.msg, "hello");
  assert.equal(line.n, 1);
  assert.equal(line.authorization, "[REDACTED]");
  assert.ok(!Number.isNaN(Date.parse(line.ts)));
});

Deno.test("LOG_LEVEL filters lower levels", () => {
  const seen: string[] = [];
  const log = createLogger({ level: "warn", sink: (l) => seen.push(l) });
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  assert.deepEqual(seen, ["warn", "error"]);
  const all: string[] = [];
  const debug = createLogger({ level: "debug", sink: (l) => all.push(l) });
  debug.debug("d");
  assert.deepEqual(all, ["debug"]);
});

Deno.test("child loggers bind fields", () => {
  const out: string[] = [];
  const log = createLogger({ sink: (_l, line) => out.push(line) }).child({ requestId: "r1" });
  log.child({ function: "jobs" }).info("x");
  const line = JSON.parse(out[0]);
  assert.equal(line.requestId, "r1");
  assert.equal(line.function, "jobs");
});

Deno.test("the request log: one line per request with the agreed fields", async () => {
  const logs = captureLogger("info");
  const account = crypto.randomUUID();
  const verifier: Verifier = {
    verify: () => Promise.resolve({ account, claims: { sub: account }, isAnonymous: false }),
  };
  const app = createBaseApp("jobs", { config: testConfig(), logger: logs.logger });
  app.get("/jobs/:id", auth({ verifier }), (c) => c.json({ ok: true }));
  const res = await app.request(`/jobs/jobs/${crypto.randomUUID()}`, {
    headers: { authorization: "Bearer anything", "X-Request-Id": "req-log-0001" },
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.equal(logs.lines.length, 1);
  const line = logs.lines[0];
  assert.equal(line.msg, "request");
  assert.equal(line.level, "info");
  assert.equal(line.requestId, "req-log-0001");
  assert.equal(line.function, "jobs");
  assert.equal(line.method, "GET");
  assert.equal(line.route, "/jobs/jobs/:id");
  assert.equal(line.status, 200);
  assert.equal(typeof line.durationMs, "number");
  assert.equal(line.account, account);
  assert.ok(!logs.raw[0].includes("anything"));
});

Deno.test("the request log names the error code and logs 5xx at error level", async () => {
  const logs = captureLogger("info");
  const app = createBaseApp("t", { config: testConfig(), logger: logs.logger });
  app.get("/boom", () => {
    throw new Error("kaput");
  });
  const res = await app.request("/t/nothing");
  await res.body?.cancel();
  assert.equal(logs.lines.at(-1)?.errorCode, "NOT_FOUND");
  assert.equal(logs.lines.at(-1)?.status, 404);
  assert.equal(logs.lines.at(-1)?.route, "(unmatched)");
  const res2 = await app.request("/t/boom");
  await res2.body?.cancel();
  const requestLine = logs.lines.at(-1);
  assert.equal(requestLine?.msg, "request");
  assert.equal(requestLine?.level, "error");
  assert.equal(requestLine?.errorCode, "INTERNAL");
});

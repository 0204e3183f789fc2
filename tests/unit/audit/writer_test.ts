import assert from "node:assert/strict";
import {
  auditMetadata,
  createAuditWriter,
  flushAfterResponse,
  MAX_METADATA_BYTES,
  runAfterResponse,
} from "../../../functions/_shared/audit/mod.ts";
import type { Sql } from "../../../functions/_shared/db/client.ts";

/** A tagged-template stand-in for postgres.js that records the bound values. */
function recordingSql(fail = false): { sql: Sql; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const sql = ((_strings: TemplateStringsArray, ...values: unknown[]) => {
    calls.push(values);
    return fail ? Promise.reject(new Error("db down")) : Promise.resolve([]);
  }) as unknown as Sql;
  return { sql, calls };
}

function capturingLog() {
  const lines: { msg: string; fields?: Record<string, unknown> }[] = [];
  return {
    lines,
    error: (msg: string, fields?: Record<string, unknown>) => void lines.push({ msg, fields }),
  };
}

Deno.test("metadata is redacted: codes, secrets and tokens never reach the audit log", () => {
  const out = auditMetadata({
    code: "SPRING-2027",
    adminSecret: "s3cr3t-value",
    note: "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghijklmnop",
    nested: { token: "abc", amount: 5 },
    flag: "ai.chat",
  });
  assert.deepEqual(out, {
    code: "[REDACTED]",
    adminSecret: "[REDACTED]",
    note: "Bearer [REDACTED]",
    nested: { token: "[REDACTED]", amount: 5 },
    flag: "ai.chat",
  });
});

Deno.test("oversized metadata is replaced by a note of its size", () => {
  const out = auditMetadata({ blob: "x".repeat(MAX_METADATA_BYTES + 10) });
  assert.equal(out.truncated, true);
  assert.ok((out.originalBytes as number) > MAX_METADATA_BYTES);
});

Deno.test("record() writes after the caller returns, through api.log_audit", async () => {
  const { sql, calls } = recordingSql();
  const log = capturingLog();
  const audit = createAuditWriter({ sql: () => sql, log });
  audit.record({
    category: "security",
    action: "auth.failed",
    ipHash: "hash",
    requestId: "req-1",
    metadata: { reason: "bad_signature", token: "eyJ..." },
  });
  assert.equal(calls.length, 0, "nothing is written synchronously");
  await flushAfterResponse();
  assert.equal(calls.length, 1);
  const [category, action, account, device, ipHash, requestId, metadata] = calls[0];
  assert.deepEqual([category, action, account, device, ipHash, requestId], [
    "security",
    "auth.failed",
    null,
    null,
    "hash",
    "req-1",
  ]);
  assert.deepEqual(JSON.parse(metadata as string), {
    reason: "bad_signature",
    token: "[REDACTED]",
  });
  assert.equal(log.lines.length, 0);
});

Deno.test("a failed write is logged, never thrown at the request", async () => {
  const { sql } = recordingSql(true);
  const log = capturingLog();
  createAuditWriter({ sql: () => sql, log }).record({ category: "admin", action: "admin.diag" });
  await flushAfterResponse();
  assert.equal(log.lines.length, 1);
  assert.equal(log.lines[0].msg, "audit write failed");
});

Deno.test("malformed events are refused before any write", async () => {
  const { sql, calls } = recordingSql();
  const audit = createAuditWriter({ sql: () => sql, log: capturingLog() });
  await assert.rejects(audit.write({ category: "admin", action: "Has Spaces" }), /audit action/);
  await assert.rejects(
    audit.write({ category: "admin", action: "admin.x", accountId: "not-a-uuid" }),
    /UUID/,
  );
  assert.equal(calls.length, 0);
});

Deno.test("EdgeRuntime.waitUntil receives the task where it exists", async () => {
  const handed: Promise<unknown>[] = [];
  const g = globalThis as { EdgeRuntime?: unknown };
  g.EdgeRuntime = { waitUntil: (p: Promise<unknown>) => void handed.push(p) };
  try {
    let ran = false;
    runAfterResponse(() => {
      ran = true;
      return Promise.resolve();
    }, capturingLog());
    assert.equal(handed.length, 1);
    await handed[0];
    assert.equal(ran, true);
  } finally {
    delete g.EdgeRuntime;
  }
});

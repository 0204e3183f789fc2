/**
 * Alert delivery end to end: alerts raised in Postgres (ops.raise_alert) are dispatched to a
 * local webhook receiver that checks the HMAC signature and deduplicates by alert id. Proves:
 * signed payload, retry after a failure (outbox backoff and in-process), no duplicate — a
 * delivered alert is never sent again and a re-sent one carries the same id —, channel routing,
 * refused webhook URLs, and POST /admin/alerts/dispatch on the admin app.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { deliverAlert } from "../../functions/_shared/alerts/deliver.ts";
import { dispatchAlerts, type DispatchOptions } from "../../functions/_shared/alerts/dispatch.ts";
import { verifySignature } from "../../functions/_shared/alerts/signature.ts";
import { flushAfterResponse } from "../../functions/_shared/audit/after_response.ts";
import { parseConfig } from "../../functions/_shared/config.ts";
import { createSql, type Sql } from "../../functions/_shared/db/client.ts";
import { createLogger } from "../../functions/_shared/log/logger.ts";
import { createApp } from "../../functions/admin/app.ts";
import { fnUrl, testEnv } from "../support/env.ts";
import { adminSql } from "../support/db.ts";

const DB_TEST = { sanitizeOps: false, sanitizeResources: false };
const SIGNING_SECRET = testEnv("ALERT_SIGNING_SECRET");

interface Received {
  path: string;
  alertId: string | null;
  signatureOk: boolean;
  body: Record<string, unknown>;
}

/** A webhook receiver on 127.0.0.1: verifies signatures, answers from a script, dedups by id. */
function startReceiver(script: number[] = []) {
  const received: Received[] = [];
  const processed = new Set<string>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const text = await req.text();
    const alertId = req.headers.get("x-tollgate-alert-id");
    const signatureOk = await verifySignature(
      SIGNING_SECRET,
      text,
      req.headers.get("x-tollgate-signature"),
    );
    received.push({
      path: new URL(req.url).pathname,
      alertId,
      signatureOk,
      body: JSON.parse(text),
    });
    const status = script.shift() ?? 200;
    if (status === 200 && signatureOk && alertId) processed.add(alertId); // at-least-once → dedup here
    return new Response(null, { status: status === 200 ? 204 : status });
  });
  const base = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`;
  return { received, processed, base, stop: () => server.shutdown() };
}

interface Ctx {
  db: postgres.Sql;
  sql: Sql;
}

async function withDb(fn: (ctx: Ctx) => Promise<void>) {
  const db = adminSql();
  const sql = createSql(testEnv("TEST_API_DB_URL"), { max: 4 });
  try {
    // Other alerts waiting in this database are not this test's business.
    await db`update ops.alerts set next_attempt_at = now() + interval '1 day' where status = 'pending'`;
    await fn({ db, sql });
  } finally {
    await sql.end({ timeout: 5 });
    await db.end({ timeout: 5 });
  }
}

async function raise(
  db: postgres.Sql,
  channel: "error" | "security",
  title: string,
): Promise<string> {
  const [row] = await db<{ id: string }[]>`
    select ops.raise_alert('test.e2e', ${channel}, 'critical', ${title}, 'something happened',
                           '{"answer": 42}'::jsonb, ${`e2e:${crypto.randomUUID()}`}) as id`;
  return row.id;
}

function options(sql: Sql, base: string, extra: Partial<DispatchOptions> = {}): DispatchOptions {
  return {
    sql,
    config: {
      ENVIRONMENT: "development",
      ERROR_ALERT_WEBHOOK: `${base}/error`,
      SECURITY_ALERT_WEBHOOK: `${base}/security`,
      ALERT_SIGNING_SECRET: SIGNING_SECRET,
    },
    delivery: { attempts: 1 },
    ...extra,
  };
}

async function alertRow(db: postgres.Sql, id: string) {
  const [row] = await db<
    { status: string; attempts: number; last_error: string | null; due_in_s: number }[]
  >`
    select status, attempts, last_error, extract(epoch from next_attempt_at - now())::float8 as due_in_s
      from ops.alerts where id = ${id}`;
  return row;
}

Deno.test(
  "alerts: signed delivery, retried after a failure, never sent twice",
  DB_TEST,
  async () => {
    const receiver = startReceiver([500]);
    try {
      await withDb(async ({ db, sql }) => {
        const id = await raise(db, "error", "Reconcile found a discrepancy");

        const first = await dispatchAlerts(options(sql, receiver.base));
        assert.deepEqual({
          claimed: first.claimed,
          delivered: first.delivered,
          retrying: first.retrying,
        }, {
          claimed: 1,
          delivered: 0,
          retrying: 1,
        });
        const failed = await alertRow(db, id);
        assert.equal(failed.status, "pending");
        assert.equal(failed.attempts, 1);
        assert.equal(failed.last_error, "HTTP 500");
        assert.ok(
          failed.due_in_s > 20 && failed.due_in_s <= 31,
          "retried after the backoff, not at once",
        );

        const early = await dispatchAlerts(options(sql, receiver.base));
        assert.equal(early.claimed, 0, "nothing is sent before the backoff ends");

        await db`update ops.alerts set next_attempt_at = now() where id = ${id}`;
        const second = await dispatchAlerts(options(sql, receiver.base));
        assert.equal(second.delivered, 1);
        assert.equal((await alertRow(db, id)).status, "delivered");

        await db`update ops.alerts set next_attempt_at = now() - interval '1 hour' where id = ${id}`;
        const third = await dispatchAlerts(options(sql, receiver.base));
        assert.equal(third.claimed, 0, "a delivered alert is never claimed again");

        const mine = receiver.received.filter((r) => r.alertId === id);
        assert.equal(mine.length, 2, "one failed and one successful POST");
        assert.ok(
          mine.every((r) => r.signatureOk),
          "every POST carries a valid HMAC-SHA256 signature",
        );
        assert.equal(receiver.processed.size, 1);
        const body = mine[1].body;
        assert.deepEqual(Object.keys(body).sort(), [
          "details",
          "environment",
          "message",
          "severity",
          "timestamp",
          "title",
        ]);
        assert.equal(body.title, "Reconcile found a discrepancy");
        assert.equal(body.severity, "critical");
        assert.equal(body.environment, "development");
        assert.ok(!Number.isNaN(Date.parse(String(body.timestamp))));
        const details = body.details as Record<string, unknown>;
        assert.equal(details.alertId, id);
        assert.equal(details.answer, 42);
        assert.equal(mine[1].path, "/error");
      });
    } finally {
      await receiver.stop();
    }
  },
);

Deno.test(
  "alerts: a failed POST is retried in-process with backoff within one dispatch",
  DB_TEST,
  async () => {
    const receiver = startReceiver([503]);
    try {
      await withDb(async ({ db, sql }) => {
        const id = await raise(db, "error", "retry me");
        const report = await dispatchAlerts(
          options(sql, receiver.base, { delivery: { attempts: 3, backoffMs: 20 } }),
        );
        assert.equal(report.delivered, 1);
        assert.equal(receiver.received.filter((r) => r.alertId === id).length, 2);
        assert.equal((await alertRow(db, id)).attempts, 1, "one outbox attempt");
      });
    } finally {
      await receiver.stop();
    }
  },
);

Deno.test(
  "alerts: a send whose acknowledgement was lost is re-sent with the same id and deduplicated",
  DB_TEST,
  async () => {
    const receiver = startReceiver();
    try {
      await withDb(async ({ db, sql }) => {
        const id = await raise(db, "security", "lost ack");
        // A dispatcher claims the alert, POSTs it, and dies before recording the outcome.
        const [claimed] = await sql<
          { id: string }[]
        >`select id from api.alerts_claim(10, 60) where id = ${id}`;
        assert.equal(claimed.id, id);
        const sent = await deliverAlert(new URL(`${receiver.base}/security`), id, {
          title: "lost ack",
          severity: "critical",
          message: "something happened",
          timestamp: new Date().toISOString(),
          environment: "development",
          details: { alertId: id },
        }, { secret: SIGNING_SECRET });
        assert.equal(sent.ok, true);
        // Its lease runs out; the next dispatcher sends it again.
        await db`update ops.alerts set next_attempt_at = now() where id = ${id}`;
        const report = await dispatchAlerts(options(sql, receiver.base));
        assert.equal(report.delivered, 1);
        const mine = receiver.received.filter((r) => r.alertId === id);
        assert.equal(mine.length, 2, "at-least-once: the receiver saw it twice");
        assert.equal(
          [...receiver.processed].filter((x) => x === id).length,
          1,
          "and processed it once (same alert id)",
        );
        assert.ok(
          mine.every((r) => r.path === "/security"),
          "security alerts go to SECURITY_ALERT_WEBHOOK",
        );
      });
    } finally {
      await receiver.stop();
    }
  },
);

Deno.test(
  "alerts: a refused webhook URL is never called; the alert waits and says why",
  DB_TEST,
  async () => {
    const receiver = startReceiver();
    try {
      await withDb(async ({ db, sql }) => {
        const id = await raise(db, "error", "to a loopback webhook in production");
        const opts = options(sql, receiver.base);
        const report = await dispatchAlerts({
          ...opts,
          config: { ...opts.config, ENVIRONMENT: "production" },
        });
        assert.match(String(report.refusedWebhooks.error), /https/);
        assert.equal(report.delivered, 0);
        assert.equal(receiver.received.length, 0, "nothing was sent");
        const row = await alertRow(db, id);
        assert.equal(row.status, "pending");
        assert.match(String(row.last_error), /^webhook refused: /);
      });
    } finally {
      await receiver.stop();
    }
  },
);

Deno.test(
  "alerts: POST /admin/alerts/dispatch delivers through the admin app",
  DB_TEST,
  async () => {
    const receiver = startReceiver();
    const db = adminSql();
    const sql = createSql(testEnv("TEST_API_DB_URL"), { max: 4 });
    try {
      await db`update ops.alerts set next_attempt_at = now() + interval '1 day' where status = 'pending'`;
      const id = await raise(db, "error", "via the admin route");
      const config = parseConfig({
        ...Deno.env.toObject(),
        ENVIRONMENT: "development",
        ERROR_ALERT_WEBHOOK: `${receiver.base}/error`,
      });
      const app = createApp({ config, sql, logger: createLogger({ sink: () => {} }) });
      const headers = { "x-forwarded-for": `198.19.77.${Math.floor(Math.random() * 250) + 1}` };
      const denied = await app.request("/admin/alerts/dispatch", { method: "POST", headers });
      assert.equal(denied.status, 401, "admin only");
      await denied.body?.cancel();
      const res = await app.request("/admin/alerts/dispatch", {
        method: "POST",
        headers: { ...headers, "x-admin-secret": testEnv("ADMIN_SECRET") },
      });
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.delivered, 1);
      assert.equal(receiver.received.filter((r) => r.alertId === id && r.signatureOk).length, 1);
    } finally {
      await flushAfterResponse();
      await receiver.stop();
      await sql.end({ timeout: 5 });
      await db.end({ timeout: 5 });
    }
  },
);

Deno.test("alerts: through the gateway the route is mounted, admin-only, and says when no webhook is set", async () => {
  const url = fnUrl("/admin/alerts/dispatch");
  const anonymous = await fetch(url, { method: "POST" });
  assert.equal(anonymous.status, 401);
  await anonymous.body?.cancel();
  const res = await fetch(url, {
    method: "POST",
    headers: { "x-admin-secret": testEnv("ADMIN_SECRET") },
  });
  const body = await res.json();
  // The test stack configures no ERROR_ALERT_WEBHOOK: nothing is claimed, the reason is explicit.
  assert.equal(res.status, 503);
  assert.equal(body.error.code, "SERVICE_UNAVAILABLE");
  assert.match(body.error.message, /ERROR_ALERT_WEBHOOK/);
});

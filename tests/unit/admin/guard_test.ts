/**
 * The admin guard and audit without a database (ENABLE_RATE_LIMITING=false, a stub route):
 * disabled → 503, no / wrong secret → 401 + security event, current / next → through, and
 * every admin action audited with the request id and which secret was used.
 */
import assert from "node:assert/strict";
import { createApp } from "../../../functions/admin/app.ts";
import type { AdminRoutes } from "../../../functions/admin/deps.ts";
import type { Sql } from "../../../functions/_shared/db/client.ts";
import { adminConfig, capturingAudit, CURRENT, NEXT, quietLogger } from "./helpers.ts";

const stub: AdminRoutes = (app) => {
  app.get("/stub", (c) => {
    c.set("adminAction", "stub.read");
    c.set("adminAudit", { secretValue: "must-not-be-logged", detail: 1 });
    return c.json({ secret: c.var.adminSecret });
  });
};

const noSql = (() => {
  throw new Error("no database in unit tests");
}) as unknown as Sql;

function app(env: Record<string, string> = {}) {
  const audit = capturingAudit();
  const a = createApp({
    config: adminConfig(env),
    logger: quietLogger,
    sql: noSql,
    audit,
    routes: [stub],
  });
  return { app: a, audit };
}

const get = (a: ReturnType<typeof app>["app"], headers: Record<string, string> = {}) =>
  a.request("/admin/stub", { headers: { "x-forwarded-for": "203.0.113.7", ...headers } });

Deno.test("no ADMIN_SECRET: 503 ADMIN_DISABLED whatever is presented", async () => {
  const { app: a, audit } = app({ ADMIN_SECRET: "", ADMIN_SECRET_NEXT: NEXT });
  for (const headers of [{}, { "x-admin-secret": NEXT }] as Record<string, string>[]) {
    const res = await get(a, headers);
    assert.equal(res.status, 503);
    assert.equal((await res.json()).error.code, "ADMIN_DISABLED");
  }
  assert.equal(audit.events.length, 0);
});

Deno.test("no secret and a wrong secret: 401 and a security event with the IP hash", async () => {
  const { app: a, audit } = app();
  const none = await get(a, { "x-request-id": "req-none-0001" });
  assert.equal(none.status, 401);
  const body = await none.json();
  assert.equal(body.error.code, "UNAUTHORIZED");
  assert.equal(body.error.details.reason, "missing_admin_secret");
  const wrong = await get(a, { "x-admin-secret": `${CURRENT}x`, "x-request-id": "req-wrong-0001" });
  assert.equal(wrong.status, 401);
  assert.equal((await wrong.json()).error.details.reason, "bad_admin_secret");

  assert.equal(audit.events.length, 2);
  for (const [i, e] of audit.events.entries()) {
    assert.equal(e.category, "security");
    assert.equal(e.action, "auth.failed");
    assert.equal(e.requestId, ["req-none-0001", "req-wrong-0001"][i]);
    assert.match(e.ipHash ?? "", /^[A-Za-z0-9_-]{43}$/);
    assert.equal(e.metadata?.function, "admin");
    assert.ok(!JSON.stringify(e).includes(CURRENT), "the secret is never audited");
  }
});

Deno.test("current and next secrets both pass, and the audit says which", async () => {
  const { app: a, audit } = app();
  const cur = await get(a, { "x-admin-secret": CURRENT, "x-request-id": "req-current-01" });
  assert.equal(cur.status, 200);
  assert.deepEqual(await cur.json(), { secret: "current" });
  const nxt = await get(a, { "x-admin-secret": NEXT, "x-request-id": "req-next-0001" });
  assert.equal(nxt.status, 200);
  assert.deepEqual(await nxt.json(), { secret: "next" });

  assert.deepEqual(
    audit.events.map((
      e,
    ) => [e.category, e.action, e.requestId, e.metadata?.secretUsed, e.metadata?.status]),
    [
      ["admin", "admin.stub.read", "req-current-01", "current", 200],
      ["admin", "admin.stub.read", "req-next-0001", "next", 200],
    ],
  );
  assert.equal(audit.events[0].metadata?.route, "/admin/stub");
});

Deno.test("without ADMIN_SECRET_NEXT only the current secret passes", async () => {
  const { app: a } = app({ ADMIN_SECRET_NEXT: "" });
  assert.equal((await get(a, { "x-admin-secret": NEXT })).status, 401);
  assert.equal((await get(a, { "x-admin-secret": CURRENT })).status, 200);
});

Deno.test("unknown admin paths need the secret before they say 404", async () => {
  const { app: a, audit } = app();
  const anon = await a.request("/admin/no-such-route");
  assert.equal(anon.status, 401);
  const authed = await a.request("/admin/no-such-route", {
    headers: { "x-admin-secret": CURRENT },
  });
  assert.equal(authed.status, 404);
  assert.equal(audit.events.at(-1)?.action, "admin.request");
  assert.equal(audit.events.at(-1)?.metadata?.status, 404);
});

/**
 * The admin function through the local gateway, with the stack's own secrets (ADMIN_SECRET and
 * ADMIN_SECRET_NEXT from supabase/local/env.ts): no, wrong, current and next secret; every
 * attempt audited; diagnostics never contain a configured secret. Few requests on purpose:
 * everything through the gateway shares the 127.0.0.1 "admin" bucket (30/min); the exact-N
 * tests build their own app with their own client IPs (ratelimit_admin_and_unauthenticated_test).
 */
import assert from "node:assert/strict";
import { fnUrl, testEnv } from "../support/env.ts";
import { adminSql } from "../support/db.ts";

const CURRENT = testEnv("ADMIN_SECRET");
const NEXT = testEnv("ADMIN_SECRET_NEXT");

/** Every configured value that must never appear in a response (long enough to be specific). */
function configuredSecrets(): [string, string][] {
  const SECRET_NAME = /SECRET|PASSWORD|TOKEN|PRIVATE_KEY|API_KEY|REVIEW_CODE|DB_URL|WEBHOOK/;
  return Object.entries(Deno.env.toObject())
    .filter(([name, value]) => SECRET_NAME.test(name) && value.length >= 8)
    .flatMap(([name, value]): [string, string][] => {
      const parts: [string, string][] = [[name, value]];
      const password = /^postgres(?:ql)?:\/\/[^:/@]+:([^@]+)@/.exec(value)?.[1];
      if (password && password.length >= 6) parts.push([`${name} password`, password]);
      return parts;
    });
}

async function admin(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(fnUrl(`/admin${path}`), { headers });
  const text = await res.text();
  return { res, status: res.status, text, body: text ? JSON.parse(text) : null };
}

async function auditRows(requestId: string): Promise<Record<string, unknown>[]> {
  const sql = adminSql(1);
  try {
    // Audit rows are written after the response: wait for them briefly.
    for (let i = 0; i < 40; i++) {
      const rows = await sql`
        select category, action, ip_hash, metadata from ops.audit_log where request_id = ${requestId}`;
      if (rows.length > 0) return rows;
      await new Promise((ok) => setTimeout(ok, 50));
    }
    return [];
  } finally {
    await sql.end();
  }
}

const rid = (label: string) => `admin-gw-${label}-${crypto.randomUUID()}`;

Deno.test("admin: no secret and a wrong secret are 401 and security events", async () => {
  const noneId = rid("none");
  const none = await admin("/flags", { "x-request-id": noneId });
  assert.equal(none.status, 401);
  assert.equal(none.body.error.code, "UNAUTHORIZED");
  assert.equal(none.body.error.details.reason, "missing_admin_secret");
  assert.equal(none.res.headers.get("ratelimit-policy"), '"admin";q=30;w=60');

  const wrongId = rid("wrong");
  const wrong = await admin("/flags", {
    "x-admin-secret": `${CURRENT}-wrong`,
    "x-request-id": wrongId,
  });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.error.details.reason, "bad_admin_secret");

  for (const [id, reason] of [[noneId, "missing_admin_secret"], [wrongId, "bad_admin_secret"]]) {
    const [row] = await auditRows(id);
    assert.ok(row, `audit row for ${reason}`);
    assert.equal(row.category, "security");
    assert.equal(row.action, "auth.failed");
    assert.match(String(row.ip_hash), /^[A-Za-z0-9_-]{43}$/);
    assert.equal((row.metadata as Record<string, unknown>).reason, reason);
    assert.equal((row.metadata as Record<string, unknown>).function, "admin");
    assert.ok(!JSON.stringify(row).includes(CURRENT));
  }
});

Deno.test("admin: the current and the next secret both work, and the audit says which", async () => {
  const curId = rid("current");
  const cur = await admin("/flags", { "x-admin-secret": CURRENT, "x-request-id": curId });
  assert.equal(cur.status, 200);
  assert.ok(cur.body.flags.some((f: { name: string }) => f.name === "credits.redeem"));
  const nextId = rid("next");
  const nxt = await admin("/flags", { "x-admin-secret": NEXT, "x-request-id": nextId });
  assert.equal(nxt.status, 200);

  for (const [id, secret] of [[curId, "current"], [nextId, "next"]]) {
    const [row] = await auditRows(id);
    assert.ok(row, `audit row for the ${secret} secret`);
    assert.equal(row.category, "admin");
    assert.equal(row.action, "admin.flags.list");
    const meta = row.metadata as Record<string, unknown>;
    assert.equal(meta.secretUsed, secret);
    assert.equal(meta.status, 200);
    assert.equal(meta.route, "/admin/flags");
  }
});

Deno.test("admin: diagnostics report the stack without any configured secret value", async () => {
  const headers = { "x-admin-secret": CURRENT };
  const diag = await admin("/diag", headers);
  assert.equal(diag.status, 200);
  assert.equal(diag.body.adminSecret, "current");
  assert.equal(diag.body.database.ok, true);
  assert.match(diag.body.database.migrationVersion ?? "", /^2026\d{10}$/);
  assert.equal(diag.body.secrets.ADMIN_SECRET.set, true);
  assert.equal(diag.body.secrets.ADMIN_SECRET_NEXT.set, true);
  assert.equal(diag.body.upstreams.openai.reachable, true, "the fake upstream answers");
  assert.equal(diag.body.upstreams.jwks.status, 200);

  const appstore = await admin("/diag/appstore", headers);
  assert.equal(appstore.status, 200);
  const jwt = await admin("/diag/appstore/jwt?bundleId=com.example.app", headers);
  const ping = await admin("/diag/appstore/ping?bundleId=com.example.app", headers);
  for (const r of [jwt, ping]) {
    // The stack configures no App Store key: the answer names what is missing.
    assert.equal(r.status, 422);
    assert.ok(Array.isArray(r.body.error.details.missing));
  }

  const secrets = configuredSecrets();
  assert.ok(
    secrets.some(([n]) => n === "ADMIN_SECRET") && secrets.some(([n]) => n === "IP_HASH_SECRET"),
  );
  for (const r of [diag, appstore, jwt, ping]) {
    for (const [name, value] of secrets) {
      assert.ok(!r.text.includes(value), `${r.res.url} contains ${name}`);
    }
  }
});

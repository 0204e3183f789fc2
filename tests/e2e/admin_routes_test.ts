/**
 * Every admin route against the real database, on an admin app built here (createApp with a
 * configuration per test: App Store credentials, a fake App Store, every secret set), each test
 * from its own client IP so the per-IP admin limit never interferes.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { exportPKCS8, generateKeyPair } from "jose";
import { flushAfterResponse } from "../../functions/_shared/audit/after_response.ts";
import { type Config, parseConfig } from "../../functions/_shared/config.ts";
import { createSql, type Sql } from "../../functions/_shared/db/client.ts";
import { createLogger } from "../../functions/_shared/log/logger.ts";
import { createApp } from "../../functions/admin/app.ts";
import { promoCodeHash } from "../../functions/credits/routes/promo_code.ts";
import { startFakeAppStore } from "../fakes/appstore.ts";
import { testEnv } from "../support/env.ts";
import { adminSql } from "../support/db.ts";

const DB_TEST = { sanitizeOps: false, sanitizeResources: false };
const SECRET = testEnv("ADMIN_SECRET");

interface Harness {
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{
    res: Response;
    status: number;
    text: string;
    // deno-lint-ignore no-explicit-any
    body: any;
  }>;
  config: Config;
  sql: Sql;
  db: postgres.Sql;
}

async function withAdminApp(env: Record<string, string>, fn: (h: Harness) => Promise<void>) {
  const config = parseConfig({ ...Deno.env.toObject(), ...env });
  const sql = createSql(testEnv("TEST_API_DB_URL"), { max: 4 });
  const db = adminSql();
  const app = createApp({ config, sql, logger: createLogger({ sink: () => {} }) });
  const ip = `198.19.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250) + 1}`;
  const request: Harness["request"] = async (method, path, body, headers = {}) => {
    const h: Record<string, string> = {
      "x-admin-secret": SECRET,
      "x-forwarded-for": ip,
      ...headers,
    };
    if (body !== undefined) h["content-type"] = "application/json";
    const res = await app.request(`/admin${path}`, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { res, status: res.status, text, body: text ? JSON.parse(text) : null };
  };
  try {
    await fn({ request, config, sql, db });
  } finally {
    await flushAfterResponse();
    await sql.end({ timeout: 5 });
    await db.end({ timeout: 5 });
  }
}

async function account(db: postgres.Sql): Promise<string> {
  const id = crypto.randomUUID();
  await db`select api.ensure_account(${id}::uuid, 3)`;
  return id;
}

Deno.test(
  "admin grants are idempotent by Idempotency-Key or reference, and audited",
  DB_TEST,
  async () => {
    await withAdminApp({}, async ({ request, db }) => {
      const id = await account(db);
      const key = `ticket-${crypto.randomUUID()}`;
      const body = { accountId: id, amount: 50, reason: "support", note: "refund for outage" };
      const rid = `grant-${crypto.randomUUID()}`;
      const first = await request("POST", "/grants", body, {
        "idempotency-key": key,
        "x-request-id": rid,
      });
      assert.equal(first.status, 201, first.text);
      assert.equal(first.body.applied, true);
      assert.equal(first.body.balance, 53);
      assert.equal(first.body.reference, key);

      const replay = await request("POST", "/grants", body, { "idempotency-key": key });
      assert.equal(replay.status, 200);
      assert.equal(replay.res.headers.get("idempotent-replayed"), "true");
      assert.equal(replay.body.ledgerId, first.body.ledgerId);
      assert.equal(replay.body.balance, 53, "applied once");

      const byReference = await request("POST", "/grants", { ...body, reference: key });
      assert.equal(byReference.status, 200, "the body reference is the same key");

      const changed = await request("POST", "/grants", { ...body, amount: 51 }, {
        "idempotency-key": key,
      });
      assert.equal(changed.status, 422);
      assert.equal(changed.body.error.code, "IDEMPOTENCY_KEY_REUSED");

      const noRef = await request("POST", "/grants", body);
      assert.equal(noRef.status, 400);
      const differ = await request("POST", "/grants", { ...body, reference: "a" }, {
        "idempotency-key": "b",
      });
      assert.equal(differ.status, 400);
      const unknown = await request("POST", "/grants", {
        ...body,
        accountId: crypto.randomUUID(),
        reference: "x",
      });
      assert.equal(unknown.status, 404);
      const badReason = await request("POST", "/grants", {
        ...body,
        reason: "Not Snake",
        reference: "y",
      });
      assert.equal(badReason.status, 400);

      const [ledger] =
        await db`select count(*)::int as n, sum(delta)::int as total from credits.ledger
                                where account_id = ${id}::uuid and kind = 'grant'`;
      assert.deepEqual({ ...ledger }, { n: 1, total: 50 });
      await flushAfterResponse();
      const [event] =
        await db`select category, action, account_id, metadata from ops.audit_log where request_id = ${rid}`;
      assert.equal(event.category, "admin");
      assert.equal(event.action, "admin.grants.create");
      assert.equal(event.account_id, id);
      assert.equal(event.metadata.secretUsed, "current");
      assert.equal(event.metadata.amount, 50);
      assert.equal(event.metadata.applied, true);
      assert.equal(event.metadata.note, "refund for outage");
    });
  },
);

Deno.test(
  "admin flags: list, switch off and on (updatedBy names the secret), unknown is 404",
  DB_TEST,
  async () => {
    await withAdminApp({}, async ({ request }) => {
      const list = await request("GET", "/flags");
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.flags.map((f: { name: string }) => f.name),
        ["ai.chat", "ai.images", "ai.speech", "credits.redeem", "jobs.start", "purchases"],
      );
      try {
        const off = await request("PUT", "/flags", {
          name: "purchases",
          enabled: false,
          reason: "store outage",
          retryAfterSeconds: 300,
        });
        assert.equal(off.status, 200);
        assert.equal(off.body.flag.enabled, false);
        assert.equal(off.body.flag.retryAfterSeconds, 300);
        assert.equal(off.body.flag.updatedBy, "admin:current");
        const next = await request("PUT", "/flags", { name: "purchases", enabled: true }, {
          "x-admin-secret": testEnv("ADMIN_SECRET_NEXT"),
        });
        assert.equal(next.body.flag.updatedBy, "admin:next");
      } finally {
        await request("PUT", "/flags", {
          name: "purchases",
          enabled: true,
          reason: null,
          retryAfterSeconds: 60,
        });
      }
      assert.equal(
        (await request("PUT", "/flags", { name: "no.such.flag", enabled: false })).status,
        404,
      );
      assert.equal((await request("PUT", "/flags", { name: "purchases" })).status, 400);
    });
  },
);

Deno.test(
  "admin prices: list, create or replace one model, rule violations are 400",
  DB_TEST,
  async () => {
    await withAdminApp({}, async ({ request }) => {
      const list = await request("GET", "/prices");
      assert.equal(list.status, 200);
      const mini = list.body.prices.find((p: { model: string }) => p.model === "gpt-4o-mini");
      assert.equal(mini.kind, "chat");
      assert.equal(typeof mini.creditsPer1kOutputTokens, "number");

      const model = `test-admin-${crypto.randomUUID().slice(0, 8)}`;
      const put = await request("PUT", "/prices", {
        model,
        kind: "chat",
        enabled: false,
        creditsPerRequest: 2,
        creditsPer1kInputTokens: 0.5,
        creditsPer1kOutputTokens: 1.5,
        maxOutputTokens: 1024,
      });
      assert.equal(put.status, 200, put.text);
      assert.equal(put.body.price.creditsPer1kOutputTokens, 1.5);
      assert.equal(put.body.price.updatedBy, "admin:current");

      const broken = await request("PUT", "/prices", {
        model,
        kind: "chat",
        enabled: false,
        voices: ["alloy"],
        maxOutputTokens: 1024,
      });
      assert.equal(broken.status, 400);
      assert.equal(broken.body.error.code, "VALIDATION_FAILED");
      assert.match(broken.body.error.message, /ai_prices_chat_shape/);

      const images = await request("PUT", "/prices", {
        model: `${model}-img`,
        kind: "images",
        enabled: false,
        maxImages: 2,
        defaultSize: "1024x1024",
        defaultQuality: "standard",
        imagePrices: [
          { size: "1024x1024", quality: "standard", creditsPerImage: 40 },
          { size: "1024x1792", quality: "standard", creditsPerImage: 80 },
        ],
      });
      assert.equal(images.status, 200, images.text);
      assert.deepEqual(images.body.price.imagePrices, [
        { size: "1024x1024", quality: "standard", creditsPerImage: 40 },
        { size: "1024x1792", quality: "standard", creditsPerImage: 80 },
      ]);
    });
  },
);

Deno.test(
  "admin promo campaigns: create (code stored as a hash), list, conflicts; redeemable",
  DB_TEST,
  async () => {
    await withAdminApp({}, async ({ request, db }) => {
      const name = `spring-${crypto.randomUUID().slice(0, 8)}`;
      const code = `Spring-${crypto.randomUUID().slice(0, 8)}`;
      const rid = `promo-create-${crypto.randomUUID()}`;
      const created = await request("POST", "/promo-campaigns", {
        name,
        code,
        maxRedemptions: 100,
        validUntil: new Date(Date.now() + 86_400_000).toISOString(),
      }, { "x-request-id": rid });
      assert.equal(created.status, 201, created.text);
      assert.equal(
        created.body.campaign.creditsPerRedemption,
        20,
        "REVIEW_GRANT_AMOUNT by default",
      );
      assert.equal(created.body.campaign.active, true);
      assert.ok(!created.text.toUpperCase().includes(code.toUpperCase()), "the code is not echoed");

      const list = await request("GET", "/promo-campaigns");
      assert.ok(list.body.campaigns.some((c: { name: string }) => c.name === name));
      assert.ok(!/code_?hash|codeHash/.test(list.text), "no hash in the listing");

      assert.equal(
        (await request("POST", "/promo-campaigns", { name, code: "OTHER-CODE-1" })).status,
        409,
      );
      assert.equal(
        (await request("POST", "/promo-campaigns", { name: `${name}-b`, code })).status,
        409,
      );
      assert.equal(
        (await request("POST", "/promo-campaigns", { name: `${name}-c`, code: "short" })).status,
        400,
      );

      const [stored] = await db`select code_hash from credits.promo_campaigns where name = ${name}`;
      assert.deepEqual(new Uint8Array(stored.code_hash), await promoCodeHash(code.toUpperCase()));
      const [redeemed] = await db`
      select outcome from api.promo_redeem(${crypto.randomUUID()}::uuid, 'dev-admin-promo',
                                           ${await promoCodeHash(code)}::bytea, 3, null, null)`;
      assert.equal(redeemed.outcome, "redeemed");

      await flushAfterResponse();
      const [event] =
        await db`select action, metadata::text as metadata from ops.audit_log where request_id = ${rid}`;
      assert.equal(event.action, "admin.promo_campaigns.create");
      assert.ok(
        !event.metadata.toUpperCase().includes(code.toUpperCase()),
        "the audit never holds the code",
      );
    });
  },
);

Deno.test(
  "admin account overview: balance, ledger, jobs, promo; unknown 404, malformed 400",
  DB_TEST,
  async () => {
    await withAdminApp({}, async ({ request, db }) => {
      const id = await account(db);
      await db`select api.grant(${id}::uuid, 10, 'support', 'test:overview')`;
      const rid = `overview-${crypto.randomUUID()}`;
      const r = await request("GET", `/accounts/${id.toUpperCase()}?ledger=1`, undefined, {
        "x-request-id": rid,
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.account.id, id);
      assert.equal(r.body.account.balance, 13);
      assert.equal(r.body.account.available, 13);
      assert.equal(r.body.account.ledger.length, 1);
      assert.equal(r.body.account.ledger[0].causeKey, "test:overview");
      assert.deepEqual(r.body.account.jobs, []);
      assert.equal(r.body.account.promo.recentFailures, 0);
      assert.equal((await request("GET", `/accounts/${crypto.randomUUID()}`)).status, 404);
      assert.equal((await request("GET", "/accounts/not-a-uuid")).status, 400);
      await flushAfterResponse();
      const [event] =
        await db`select action, account_id from ops.audit_log where request_id = ${rid}`;
      assert.deepEqual({ ...event }, { action: "admin.accounts.get", account_id: id });
    });
  },
);

Deno.test(
  "admin App Store diagnostics: configuration, JWT header and claims, ping through the fake",
  DB_TEST,
  async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const pem = await exportPKCS8(privateKey);
    const issuerId = crypto.randomUUID();
    const keyId = "TESTKEY123";
    const fake = await startFakeAppStore({
      publicKey,
      issuerId,
      keyId,
      bundleId: "com.example.app",
    });
    try {
      await withAdminApp({
        APPSTORE_ISSUER_ID: issuerId,
        APPSTORE_KEY_ID: keyId,
        APPSTORE_PRIVATE_KEY: pem.replaceAll("\n", "\\n"),
        APPSTORE_API_BASE_URL: fake.url,
      }, async ({ request }) => {
        const info = await request("GET", "/diag/appstore");
        assert.equal(info.status, 200);
        assert.equal(info.body.ready, true);
        assert.equal(info.body.privateKey.usableForES256, true);
        assert.equal(info.body.keyId.preview, "TE… (10 chars)");
        assert.equal(info.body.environment, "custom");

        const jwt = await request("GET", "/diag/appstore/jwt?bundleId=com.example.app");
        assert.equal(jwt.status, 200);
        assert.deepEqual(jwt.body.header, { alg: "ES256", kid: keyId, typ: "JWT" });
        assert.equal(jwt.body.claims.iss, issuerId);
        assert.equal(jwt.body.claims.aud, "appstoreconnect-v1");
        assert.equal(jwt.body.claims.bid, "com.example.app");
        assert.equal(jwt.body.claims.exp - jwt.body.claims.iat, 300);
        assert.equal(jwt.body.signature, "withheld");
        assert.ok(!/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\./.test(jwt.text), "no token in the answer");

        const ping = await request(
          "GET",
          "/diag/appstore/ping?bundleId=com.example.app&transactionId=42",
        );
        assert.equal(ping.status, 200, ping.text);
        assert.equal(ping.body.reachable, true);
        assert.equal(ping.body.status, 404);
        assert.equal(ping.body.authenticated, true, "the fake verified our signature and claims");
        assert.equal(ping.body.appleError.errorCode, 4040010);
        assert.equal(fake.requests().at(-1)?.path, "/inApps/v1/transactions/42");

        const wrongBundle = await request("GET", "/diag/appstore/ping?bundleId=com.other.app");
        assert.equal(wrongBundle.body.status, 401);
        assert.equal(wrongBundle.body.authenticated, false);
        assert.equal(fake.requests().at(-1)?.failure, "unknown bid");
      });

      await withAdminApp({ APPSTORE_API_BASE_URL: fake.url }, async ({ request }) => {
        const missing = await request("GET", "/diag/appstore/jwt");
        assert.equal(missing.status, 422);
        assert.deepEqual(missing.body.error.details.missing, [
          "APPSTORE_ISSUER_ID",
          "APPSTORE_KEY_ID",
          "APPSTORE_PRIVATE_KEY",
        ]);
      });
    } finally {
      await fake.close();
    }
  },
);

Deno.test(
  "no diagnostic answer contains any configured secret, with every secret set",
  DB_TEST,
  async () => {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const pem = await exportPKCS8(privateKey);
    const fake = await startFakeAppStore();
    const secrets: Record<string, string> = {
      JWT_SECRET_NEXT: `jwt-next-${crypto.randomUUID()}`,
      ALERT_SIGNING_SECRET: `alert-signing-${crypto.randomUUID()}`,
      ERROR_ALERT_WEBHOOK: `http://127.0.0.1:9/hooks/error-${crypto.randomUUID()}`,
      SECURITY_ALERT_WEBHOOK: `http://127.0.0.1:9/hooks/security-${crypto.randomUUID()}`,
      APPSTORE_PRIVATE_KEY: pem,
      APPSTORE_ISSUER_ID: crypto.randomUUID(),
      APPSTORE_KEY_ID: "SECRETKID9",
      APPSTORE_API_BASE_URL: fake.url,
    };
    try {
      await withAdminApp(secrets, async ({ request, config }) => {
        const answers = [
          await request("GET", "/diag"),
          await request("GET", "/diag/appstore"),
          await request("GET", "/diag/appstore/jwt?bundleId=com.example.app"),
          await request("GET", "/diag/appstore/ping?bundleId=com.example.app"),
        ];
        for (const a of answers) assert.equal(a.status, 200, a.text);
        const values: [string, string][] = [
          ["ADMIN_SECRET", config.ADMIN_SECRET!],
          ["ADMIN_SECRET_NEXT", config.ADMIN_SECRET_NEXT!],
          ["SUPABASE_JWT_SECRET", config.SUPABASE_JWT_SECRET!],
          ["IP_HASH_SECRET", config.IP_HASH_SECRET],
          ["OPENAI_API_KEY", config.OPENAI_API_KEY!],
          ["REVIEW_CODE", config.REVIEW_CODE!],
          ["TOLLGATE_DB_URL", config.TOLLGATE_DB_URL],
          ["TOLLGATE_DB_URL password", /:\/\/[^:]+:([^@]+)@/.exec(config.TOLLGATE_DB_URL)![1]],
          ...Object.entries(secrets).filter(([n]) =>
            !["APPSTORE_ISSUER_ID", "APPSTORE_KEY_ID", "APPSTORE_API_BASE_URL"].includes(n)
          ),
          // The PEM's body lines, in case a key were ever echoed without its armour.
          ...pem.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----"))
            .map((l): [string, string] => ["APPSTORE_PRIVATE_KEY line", l]),
        ];
        for (const a of answers) {
          for (const [name, value] of values) {
            assert.ok(value && value.length >= 8, `${name} is configured`);
            assert.ok(!a.text.includes(value), `${a.res.url} leaks ${name}`);
          }
        }
        // Identifiers appear only as previews outside the JWT route, which shows them by design.
        assert.ok(
          !answers[0].text.includes("SECRETKID9") && !answers[1].text.includes("SECRETKID9"),
        );
        assert.ok(!answers[0].text.includes(secrets.APPSTORE_ISSUER_ID));
      });
    } finally {
      await fake.close();
    }
  },
);

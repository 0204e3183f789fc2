import assert from "node:assert/strict";
import { originOf, preview, secretsReport } from "../../../functions/admin/routes/diag.ts";
import { adminConfig, CURRENT, NEXT } from "./helpers.ts";

Deno.test("preview shows a prefix and the length, never the whole identifier", () => {
  assert.equal(preview("2X9R4HXF34"), "2X… (10 chars)");
  assert.equal(preview("57246542-96fe-1a63-e053-0824d011072a", 4), "5724… (36 chars)");
  assert.equal(preview("abc"), "*** (3 chars)");
  assert.equal(preview(undefined), null);
});

Deno.test("originOf drops credentials, paths and queries", () => {
  assert.equal(
    originOf("https://user:pw@hooks.example.com/T000/B000/XXXX?x=1"),
    "https://hooks.example.com",
  );
  assert.equal(originOf("not a url"), null);
});

Deno.test("the secrets report holds booleans and previews, no secret value", () => {
  const env = {
    JWT_SECRET_NEXT: "jwt-next-secret-value-0123456789abcdef",
    OPENAI_API_KEY: "sk-unit-openai-key-value-0123456789",
    APPSTORE_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----\nMIGHAgEAunitkey\n-----END PRIVATE KEY-----",
    APPSTORE_KEY_ID: "2X9R4HXF34",
    APPSTORE_ISSUER_ID: "57246542-96fe-1a63-e053-0824d011072a",
    ALERT_SIGNING_SECRET: "alert-signing-secret-value-0123456789",
    REVIEW_CODE: "UNIT-REVIEW-CODE-VALUE",
    SECURITY_ALERT_WEBHOOK: "https://hooks.example.com/services/T0/B0/secret-path-token",
  };
  const report = secretsReport(adminConfig(env));
  const text = JSON.stringify(report);
  for (const value of [...Object.values(env), CURRENT, NEXT, "unit-db-password"]) {
    assert.ok(!text.includes(value), `report leaks ${value.slice(0, 6)}…`);
  }
  assert.deepEqual(report.ADMIN_SECRET, { set: true });
  assert.deepEqual(report.OPENAI_API_KEY, { set: true });
  assert.deepEqual(report.ERROR_ALERT_WEBHOOK, { set: false });
  assert.equal(report.APPSTORE_KEY_ID.preview, "2X… (10 chars)");
  assert.equal(report.IP_HASH_SECRET.developmentDefault, true);
});

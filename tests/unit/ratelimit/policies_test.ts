import assert from "node:assert/strict";
import {
  checkRateLimitEnv,
  DEFAULT_POLICIES,
  parseEnabled,
  parseQuotaWindow,
  rateLimitKey,
  resolvePolicies,
} from "../../../functions/_shared/ratelimit/policies.ts";

Deno.test("defaults match issue 6", () => {
  const { enabled, policies } = resolvePolicies({});
  assert.equal(enabled, true);
  const summary = Object.fromEntries(
    Object.values(policies).map((p) => [p.name, `${p.quota}/${p.windowSeconds} per ${p.keyKind}`]),
  );
  assert.deepEqual(summary, {
    chat: "60/60 per account",
    speech: "120/60 per account",
    images: "10/60 per account",
    "jobs.start": "30/60 per account",
    "promo.account": "3/3600 per account",
    "promo.device": "3/3600 per device",
    admin: "30/60 per ip",
    unauthenticated: "100/60 per ip",
  });
});

Deno.test("RATE_LIMIT_* overrides one policy and leaves the others alone", () => {
  const { policies } = resolvePolicies({
    RATE_LIMIT_CHAT: "5/10",
    RATE_LIMIT_JOBS_START: " 7 / 30 ",
  });
  assert.equal(policies.chat.quota, 5);
  assert.equal(policies.chat.windowSeconds, 10);
  assert.equal(policies["jobs.start"].quota, 7);
  assert.equal(policies["jobs.start"].windowSeconds, 30);
  assert.deepEqual(policies.speech, DEFAULT_POLICIES.speech);
});

Deno.test("RATE_LIMIT_PROMO sets both promo policies", () => {
  const { policies } = resolvePolicies({ RATE_LIMIT_PROMO: "2/60" });
  assert.equal(policies["promo.account"].quota, 2);
  assert.equal(policies["promo.device"].quota, 2);
  assert.equal(policies["promo.device"].keyKind, "device");
});

Deno.test("an empty override means the default", () => {
  assert.equal(resolvePolicies({ RATE_LIMIT_ADMIN: "" }).policies.admin.quota, 30);
});

Deno.test("ENABLE_RATE_LIMITING=false disables limiting", () => {
  assert.equal(resolvePolicies({ ENABLE_RATE_LIMITING: "false" }).enabled, false);
  assert.equal(resolvePolicies({ ENABLE_RATE_LIMITING: "FALSE" }).enabled, false);
  assert.equal(resolvePolicies({ ENABLE_RATE_LIMITING: "0" }).enabled, false);
  assert.equal(resolvePolicies({ ENABLE_RATE_LIMITING: "true" }).enabled, true);
  assert.equal(parseEnabled(undefined), true);
  assert.throws(() => parseEnabled("nope"), /ENABLE_RATE_LIMITING/);
});

Deno.test("malformed or out-of-range overrides fail loudly, naming the variable", () => {
  for (const bad of ["60", "60/", "/60", "a/b", "60/60/60", "-1/60", "1.5/60", "0/60", "60/0"]) {
    assert.throws(() => resolvePolicies({ RATE_LIMIT_CHAT: bad }), /RATE_LIMIT_CHAT/, bad);
  }
  assert.throws(() => parseQuotaWindow("X", "1/604801"), /window/);
  assert.throws(() => parseQuotaWindow("X", "2000/1"), /quota/);
  assert.deepEqual(parseQuotaWindow("X", "1000/1"), { quota: 1000, windowSeconds: 1 });
});

Deno.test("resolvePolicies does not mutate the defaults", () => {
  resolvePolicies({ RATE_LIMIT_CHAT: "1/1" });
  assert.equal(DEFAULT_POLICIES.chat.quota, 60);
  assert.ok(Object.isFrozen(resolvePolicies({}).policies.chat));
});

Deno.test("rateLimitKey prefixes the key kind and refuses an empty subject", () => {
  assert.equal(rateLimitKey("account", "0b5c"), "account:0b5c");
  assert.throws(() => rateLimitKey("ip", ""));
});

Deno.test("checkRateLimitEnv collects every problem, refuses unknown names, never echoes values", () => {
  const { config, problems } = checkRateLimitEnv({
    RATE_LIMIT_CAHT: "60/60",
    RATE_LIMIT_CHAT: "sixty-secret-value",
    RATE_LIMIT_ADMIN: "5/60",
    ENABLE_RATE_LIMITING: "maybe-secret-value",
  });
  assert.equal(config, null);
  assert.deepEqual(problems.map((p) => p.name).sort(), [
    "ENABLE_RATE_LIMITING",
    "RATE_LIMIT_CAHT",
    "RATE_LIMIT_CHAT",
  ]);
  for (const p of problems) assert.ok(!p.message.includes("secret-value"), p.message);
  assert.throws(() => resolvePolicies({ RATE_LIMIT_CAHT: "60/60" }), /RATE_LIMIT_CAHT/);
  assert.equal(
    checkRateLimitEnv({ RATE_LIMIT_PROMO: "4/60" }).config?.policies["promo.account"].quota,
    4,
  );
});

import assert from "node:assert/strict";
import {
  ConfigError,
  DEV_IP_HASH_SECRET,
  DEV_JWT_SECRET,
  getConfig,
  parseConfig,
  requireConfig,
  resetConfigForTests,
} from "../../../functions/_shared/config.ts";

const BASE = {
  SUPABASE_URL: "http://127.0.0.1:54321",
  TOLLGATE_DB_URL: "postgres://tollgate_api:pw@127.0.0.1:54322/postgres",
};

const STRONG = "x".repeat(40);
const PROD = {
  ENVIRONMENT: "production",
  SUPABASE_URL: "https://abc.supabase.co",
  TOLLGATE_DB_URL: "postgres://tollgate_api.abc:pw@pooler.supabase.com:6543/postgres",
  SUPABASE_JWT_SECRET: "p".repeat(40),
  CORS_ORIGINS: "https://app.example.com",
  IP_HASH_SECRET: "i".repeat(40),
  ADMIN_SECRET: STRONG,
};

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return err;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("development defaults fill everything optional", () => {
  const c = parseConfig(BASE);
  assert.equal(c.ENVIRONMENT, "development");
  assert.equal(c.SUPABASE_JWT_SECRET, DEV_JWT_SECRET);
  assert.equal(c.IP_HASH_SECRET, DEV_IP_HASH_SECRET);
  assert.deepEqual(c.CORS_ORIGINS, ["http://localhost:3000"]);
  assert.equal(c.LOG_LEVEL, "info");
  assert.equal(c.MAX_BODY_BYTES, 1024 * 1024);
  assert.equal(c.MAX_JSON_DEPTH, 10);
  assert.equal(c.SUPABASE_JWKS_URL, "http://127.0.0.1:54321/auth/v1/.well-known/jwks.json");
  assert.equal(c.ENABLE_RATE_LIMITING, true);
  assert.equal(c.INITIAL_GRANT, 3);
  assert.equal(c.REVIEW_GRANT_AMOUNT, 20);
  assert.equal(c.TOLLGATE_VERSION, "0.1.0");
  assert.deepEqual(c.RATE_LIMITS, {});
});

Deno.test("numbers are coerced and booleans parsed from strings", () => {
  const c = parseConfig({
    ...BASE,
    MAX_BODY_BYTES: "2048",
    MAX_JSON_DEPTH: "5",
    INITIAL_GRANT: "0",
    ENABLE_RATE_LIMITING: "false",
  });
  assert.equal(c.MAX_BODY_BYTES, 2048);
  assert.equal(c.MAX_JSON_DEPTH, 5);
  assert.equal(c.INITIAL_GRANT, 0);
  assert.equal(c.ENABLE_RATE_LIMITING, false);
});

Deno.test("CORS_ORIGINS is a comma-separated list of exact origins", () => {
  const c = parseConfig({
    ...BASE,
    CORS_ORIGINS: " https://a.example.com , https://B.example.com:8443",
  });
  assert.deepEqual(c.CORS_ORIGINS, ["https://a.example.com", "https://b.example.com:8443"]);
  const err = configError(() =>
    parseConfig({ ...BASE, CORS_ORIGINS: "https://a.example.com/path" })
  );
  assert.deepEqual(err.variables, ["CORS_ORIGINS"]);
});

Deno.test("RATE_LIMIT_<POLICY> becomes a record of overrides", () => {
  const c = parseConfig({ ...BASE, RATE_LIMIT_CHAT: "60/60", RATE_LIMIT_PROMO: "3/3600" });
  assert.deepEqual(c.RATE_LIMITS, {
    chat: { limit: 60, windowSeconds: 60 },
    promo: { limit: 3, windowSeconds: 3600 },
  });
  // One parser (ratelimit/policies.ts): the effective policies, and unknown names refused.
  assert.equal(c.RATE_LIMITING.policies["promo.device"].windowSeconds, 3600);
  assert.deepEqual(
    configError(() => parseConfig({ ...BASE, RATE_LIMIT_CAHT: "60/60" })).variables,
    ["RATE_LIMIT_CAHT"],
  );
  for (const bad of ["60", "0/60", "60/0", "a/b", "60/60/60"]) {
    const err = configError(() => parseConfig({ ...BASE, RATE_LIMIT_CHAT: bad }));
    assert.deepEqual(err.variables, ["RATE_LIMIT_CHAT"]);
  }
});

Deno.test("a missing required variable is named in the error", () => {
  const err = configError(() => parseConfig({ SUPABASE_URL: BASE.SUPABASE_URL }));
  assert.deepEqual(err.variables, ["TOLLGATE_DB_URL"]);
  assert.match(err.message, /TOLLGATE_DB_URL is required/);
  const err2 = configError(() => parseConfig({ TOLLGATE_DB_URL: BASE.TOLLGATE_DB_URL }));
  assert.deepEqual(err2.variables, ["SUPABASE_URL"]);
});

Deno.test("an empty value counts as missing", () => {
  const err = configError(() => parseConfig({ ...BASE, SUPABASE_URL: "  " }));
  assert.deepEqual(err.variables, ["SUPABASE_URL"]);
});

Deno.test("an invalid variable is named but its value never appears", () => {
  const cases: Record<string, string> = {
    TOLLGATE_DB_URL: "mysql://secret-user:secret-pass@host/db",
    SUPABASE_URL: "not a url secret-value-123",
    ENVIRONMENT: "prod-secret-value",
    LOG_LEVEL: "verbose-secret-value",
    MAX_BODY_BYTES: "lots-secret-value",
    ENABLE_RATE_LIMITING: "maybe-secret-value",
    OPENAI_BASE_URL: "secret-value-not-url",
  };
  for (const [name, value] of Object.entries(cases)) {
    const err = configError(() => parseConfig({ ...BASE, [name]: value }));
    assert.deepEqual(err.variables, [name], name);
    assert.ok(err.message.includes(name), err.message);
    assert.ok(!err.message.includes(value), `value of ${name} leaked: ${err.message}`);
    assert.ok(!err.message.includes("secret"), `value of ${name} leaked: ${err.message}`);
  }
});

Deno.test("job TTL bounds must be ordered", () => {
  const err = configError(() =>
    parseConfig({ ...BASE, JOB_TTL_MIN_SECONDS: "600", JOB_TTL_DEFAULT_SECONDS: "300" })
  );
  assert.deepEqual(err.variables, ["JOB_TTL_MIN_SECONDS"]);
});

Deno.test("a safe production configuration is accepted (LOG_LEVEL=debug allowed)", () => {
  const c = parseConfig({
    ...PROD,
    LOG_LEVEL: "debug",
    OPENAI_BASE_URL: "http://127.0.0.1:8080/v1",
  });
  assert.equal(c.ENVIRONMENT, "production");
  assert.equal(c.LOG_LEVEL, "debug");
});

Deno.test("production without SUPABASE_JWT_SECRET has no HS256 secret (JWKS only)", () => {
  const { SUPABASE_JWT_SECRET: _, ...rest } = PROD;
  assert.equal(parseConfig(rest).SUPABASE_JWT_SECRET, undefined);
});

Deno.test("production refuses unsafe settings, naming each variable", () => {
  const refusals: [Record<string, string>, string][] = [
    [{ CORS_ORIGINS: "*" }, "CORS_ORIGINS"],
    [{ CORS_ORIGINS: "" }, "CORS_ORIGINS"],
    [{ CORS_ORIGINS: " , " }, "CORS_ORIGINS"],
    [{ CORS_ORIGINS: "http://app.example.com" }, "CORS_ORIGINS"],
    [{ SUPABASE_JWT_SECRET: DEV_JWT_SECRET }, "SUPABASE_JWT_SECRET"],
    [{ JWT_SECRET_NEXT: DEV_JWT_SECRET }, "JWT_SECRET_NEXT"],
    [{ SUPABASE_JWT_SECRET: "short" }, "SUPABASE_JWT_SECRET"],
    [{ ADMIN_SECRET: "too-short-admin-secret" }, "ADMIN_SECRET"],
    [{ ADMIN_SECRET_NEXT: "too-short" }, "ADMIN_SECRET_NEXT"],
    [{ IP_HASH_SECRET: "too-short-ip-secret" }, "IP_HASH_SECRET"],
    [{ IP_HASH_SECRET: DEV_IP_HASH_SECRET }, "IP_HASH_SECRET"],
    [{ ALERT_SIGNING_SECRET: "short" }, "ALERT_SIGNING_SECRET"],
    [{ OPENAI_BASE_URL: "http://api.openai.example/v1" }, "OPENAI_BASE_URL"],
    [{ APPSTORE_API_BASE_URL: "http://appstore.example" }, "APPSTORE_API_BASE_URL"],
    [{ ERROR_ALERT_WEBHOOK: "http://hooks.example/x" }, "ERROR_ALERT_WEBHOOK"],
    [{ SUPABASE_URL: "http://abc.supabase.co" }, "SUPABASE_URL"],
  ];
  for (const [overrides, name] of refusals) {
    const err = configError(() => parseConfig({ ...PROD, ...overrides }));
    assert.ok(err.variables.includes(name), `${name}: ${err.message}`);
    for (const value of Object.values(overrides)) {
      if (value.length > 3) assert.ok(!err.message.includes(value), `value leaked: ${err.message}`);
    }
  }
});

Deno.test("production requires IP_HASH_SECRET (no dev default)", () => {
  const { IP_HASH_SECRET: _, ...rest } = PROD;
  const err = configError(() => parseConfig(rest));
  assert.deepEqual(err.variables, ["IP_HASH_SECRET"]);
});

Deno.test("production with default CORS (http://localhost:3000) is refused", () => {
  const { CORS_ORIGINS: _, ...rest } = PROD;
  const err = configError(() => parseConfig(rest));
  assert.deepEqual(err.variables, ["CORS_ORIGINS"]);
});

Deno.test("requireConfig names the variables a function needs", () => {
  const c = parseConfig(BASE);
  const err = configError(() => requireConfig(c, ["OPENAI_API_KEY", "ADMIN_SECRET"]));
  assert.deepEqual(err.variables, ["OPENAI_API_KEY", "ADMIN_SECRET"]);
  const ok = requireConfig(parseConfig({ ...BASE, OPENAI_API_KEY: "sk-test-123456789" }), [
    "OPENAI_API_KEY",
  ]);
  const key: string = ok.OPENAI_API_KEY; // narrowed to string by the signature
  assert.equal(key, "sk-test-123456789");
});

Deno.test("getConfig parses Deno.env once and caches until reset", () => {
  const saved = Deno.env.toObject();
  try {
    Deno.env.set("SUPABASE_URL", "http://127.0.0.1:1111");
    Deno.env.set("TOLLGATE_DB_URL", BASE.TOLLGATE_DB_URL);
    Deno.env.set("ENVIRONMENT", "development");
    Deno.env.delete("CORS_ORIGINS");
    resetConfigForTests();
    const first = getConfig();
    assert.equal(first.SUPABASE_URL, "http://127.0.0.1:1111");
    Deno.env.set("SUPABASE_URL", "http://127.0.0.1:2222");
    assert.equal(getConfig(), first);
    resetConfigForTests();
    assert.equal(getConfig().SUPABASE_URL, "http://127.0.0.1:2222");
  } finally {
    for (const k of Object.keys(Deno.env.toObject())) if (!(k in saved)) Deno.env.delete(k);
    for (const [k, v] of Object.entries(saved)) Deno.env.set(k, v);
    resetConfigForTests();
  }
});

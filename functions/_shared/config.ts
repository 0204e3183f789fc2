/**
 * The one environment schema of every function (issue #3, common.md "Environment variable names").
 *
 * Parsed once per isolate (`getConfig()`); unit tests call the pure `parseConfig(env)`.
 * A missing or invalid variable throws a `ConfigError` whose message names the variable and
 * never its value. `ENVIRONMENT=production` additionally refuses unsafe settings.
 */
import { z } from "zod";
import { checkRateLimitEnv, type RateLimitConfig } from "./ratelimit/policies.ts";

/** Supabase's well-known local JWT secret: the development default, refused in production. */
export const DEV_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long";
/** Development-only default for IP_HASH_SECRET (refused in production). */
export const DEV_IP_HASH_SECRET = "tollgate-dev-ip-hash-secret-not-for-production";
/** Shortest secret production accepts for our own HMAC / shared secrets. */
export const MIN_SECRET_LENGTH = 32;

export class ConfigError extends Error {
  /** Names of the offending variables (never their values). */
  readonly variables: string[];
  constructor(message: string, variables: string[]) {
    super(message);
    this.name = "ConfigError";
    this.variables = variables;
  }
}

/**
 * A rate-limit override as set by RATE_LIMIT_<NAME>: `limit` requests per `windowSeconds`.
 * @deprecated read `config.RATE_LIMITING.policies` (the effective policies) instead.
 */
export interface RateLimitOverride {
  limit: number;
  windowSeconds: number;
}

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const optionalString = z.string().min(1).optional();
const optionalUrl = z.string().url().optional();

/** "true/false/1/0/yes/no/on/off" → boolean (z.coerce.boolean would make "false" true). */
const booleanFlag = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no", "on", "off"], {
      errorMap: () => ({ message: "must be true or false" }),
    })
    .optional()
    .transform((v) => (v === undefined ? fallback : ["true", "1", "yes", "on"].includes(v)));

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const nonNegativeInt = (fallback: number) =>
  z.coerce.number().int().nonnegative().default(fallback);

/** Comma-separated exact origins, normalised with URL.origin ("*" = any, development only). */
const corsOrigins = z
  .string()
  .default("http://localhost:3000")
  .transform((raw, ctx) => {
    const origins: string[] = [];
    for (const part of raw.split(",").map((s) => s.trim()).filter(Boolean)) {
      if (part === "*") {
        origins.push("*");
        continue;
      }
      let url: URL;
      try {
        url = new URL(part);
      } catch {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: "contains an invalid origin" });
        return z.NEVER;
      }
      const bare = url.pathname === "/" && !url.search && !url.hash && !part.endsWith("/");
      if (!["http:", "https:"].includes(url.protocol) || !bare) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: "origins must be scheme://host[:port] without a path",
        });
        return z.NEVER;
      }
      origins.push(url.origin);
    }
    return origins;
  });

const schema = z.object({
  ENVIRONMENT: z.enum(["development", "production"]).default("development"),
  TOLLGATE_VERSION: z.string().min(1).default("0.1.0"),
  SUPABASE_URL: z.string().url().transform((u) => u.replace(/\/+$/, "")),
  TOLLGATE_DB_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL"),
  SUPABASE_JWT_SECRET: optionalString,
  JWT_SECRET_NEXT: optionalString,
  SUPABASE_JWKS_URL: optionalUrl,
  CORS_ORIGINS: corsOrigins,
  LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
  MAX_BODY_BYTES: positiveInt(1024 * 1024),
  MAX_JSON_DEPTH: positiveInt(10),
  OPENAI_BASE_URL: z.string().url().default("https://api.openai.com/v1"),
  OPENAI_API_KEY: optionalString,
  // Upstream resilience (the `ai` function): per-attempt first-byte timeout, overall deadline,
  // attempts and backoff base, stream idle/total limits, circuit breaker threshold/cool-down.
  OPENAI_TIMEOUT_MS: positiveInt(30_000),
  OPENAI_DEADLINE_MS: positiveInt(60_000),
  OPENAI_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  OPENAI_RETRY_BASE_MS: positiveInt(250),
  OPENAI_STREAM_IDLE_TIMEOUT_MS: positiveInt(30_000),
  OPENAI_STREAM_MAX_MS: z.coerce.number().int().min(1_000).max(540_000).default(300_000),
  OPENAI_BREAKER_FAILURES: positiveInt(5),
  OPENAI_BREAKER_COOLDOWN_MS: positiveInt(10_000),
  OPENAI_BREAKER_MIN_CALLS: positiveInt(20),
  INITIAL_GRANT: nonNegativeInt(3),
  MAX_JOB_AMOUNT: positiveInt(10_000),
  JOB_TTL_DEFAULT_SECONDS: positiveInt(900),
  JOB_TTL_MIN_SECONDS: positiveInt(30),
  JOB_TTL_MAX_SECONDS: positiveInt(3600),
  ADMIN_SECRET: optionalString,
  ADMIN_SECRET_NEXT: optionalString,
  IP_HASH_SECRET: optionalString,
  JOB_TOKEN_SECRET: optionalString,
  REVIEW_CODE: optionalString,
  REVIEW_GRANT_AMOUNT: positiveInt(20),
  ENABLE_RATE_LIMITING: booleanFlag(true),
  APPSTORE_ISSUER_ID: optionalString,
  APPSTORE_KEY_ID: optionalString,
  APPSTORE_PRIVATE_KEY: optionalString,
  APPSTORE_API_BASE_URL: z.string().url().default("https://api.storekit.itunes.apple.com"),
  ERROR_ALERT_WEBHOOK: optionalUrl,
  SECURITY_ALERT_WEBHOOK: optionalUrl,
  ALERT_SIGNING_SECRET: optionalString,
});

type Parsed = z.output<typeof schema>;

/** The validated configuration. Defaults filled in; secrets present only when configured. */
export type Config = Omit<Parsed, "SUPABASE_JWT_SECRET" | "IP_HASH_SECRET"> & {
  /** HS256 secret (development default: DEV_JWT_SECRET). Absent in production → JWKS only. */
  SUPABASE_JWT_SECRET?: string;
  IP_HASH_SECRET: string;
  /** Always set: SUPABASE_JWKS_URL or `${SUPABASE_URL}/auth/v1/.well-known/jwks.json`. */
  SUPABASE_JWKS_URL: string;
  /**
   * The effective rate-limit policies (defaults of issue 6 with RATE_LIMIT_* applied) and
   * whether limiting is on — parsed by ratelimit/policies.ts, the one parser of these variables.
   */
  RATE_LIMITING: RateLimitConfig;
  /**
   * The RATE_LIMIT_* variables that are set, keyed by lower-case suffix ("chat", "jobs_start",
   * "promo"), derived from RATE_LIMITING.
   * @deprecated use RATE_LIMITING.policies.
   */
  RATE_LIMITS: Record<string, RateLimitOverride>;
};

export type ConfigKey = keyof Config;

/** Empty strings count as unset (a `secrets set X=` must not become a valid empty secret). */
function cleanEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && v.trim() !== "") out[k] = v.trim();
  }
  return out;
}

/**
 * RATE_LIMIT_* and ENABLE_RATE_LIMITING are parsed by ratelimit/policies.ts (checkRateLimitEnv),
 * the single source of rate-limit configuration; this only turns its problems into config
 * problems and derives the deprecated RATE_LIMITS view.
 */
function parseRateLimits(env: Record<string, string>, problems: Problem[]) {
  const { config, problems: found } = checkRateLimitEnv(env);
  // ENABLE_RATE_LIMITING is also in the zod schema, which reports it already.
  problems.push(...found.filter((p) => p.name !== "ENABLE_RATE_LIMITING"));
  const overrides: Record<string, RateLimitOverride> = {};
  if (config) {
    for (const policy of Object.values(config.policies)) {
      if (env[policy.envVar] === undefined) continue;
      overrides[policy.envVar.slice("RATE_LIMIT_".length).toLowerCase()] = {
        limit: policy.quota,
        windowSeconds: policy.windowSeconds,
      };
    }
  }
  return { rateLimiting: config, overrides };
}

interface Problem {
  name: string;
  message: string;
}

function isLoopback(url: URL): boolean {
  return ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname) ||
    url.hostname.startsWith("127.");
}

/** Checks that only matter once real money and users are involved. */
function productionProblems(c: Config, raw: Record<string, string>): Problem[] {
  const p: Problem[] = [];
  if (c.CORS_ORIGINS.length === 0) p.push({ name: "CORS_ORIGINS", message: "must list origins" });
  if (c.CORS_ORIGINS.includes("*")) {
    p.push({ name: "CORS_ORIGINS", message: "must not be a wildcard in production" });
  }
  if (c.CORS_ORIGINS.some((o) => o.startsWith("http://"))) {
    p.push({ name: "CORS_ORIGINS", message: "must use https:// origins in production" });
  }
  for (const name of ["SUPABASE_JWT_SECRET", "JWT_SECRET_NEXT"] as const) {
    const v = raw[name];
    if (v === DEV_JWT_SECRET) {
      p.push({ name, message: "is the well-known local development secret" });
    } else if (v !== undefined && v.length < MIN_SECRET_LENGTH) {
      p.push({ name, message: `must be at least ${MIN_SECRET_LENGTH} characters` });
    }
  }
  if (raw.IP_HASH_SECRET === undefined) {
    p.push({ name: "IP_HASH_SECRET", message: "is required in production" });
  }
  for (
    const name of [
      "ADMIN_SECRET",
      "ADMIN_SECRET_NEXT",
      "IP_HASH_SECRET",
      "JOB_TOKEN_SECRET",
      "ALERT_SIGNING_SECRET",
    ]
  ) {
    const v = raw[name];
    if (v === DEV_IP_HASH_SECRET) {
      p.push({ name, message: "is a development default" });
    } else if (v !== undefined && v.length < MIN_SECRET_LENGTH) {
      p.push({ name, message: `must be at least ${MIN_SECRET_LENGTH} characters` });
    }
  }
  const urls = [
    "SUPABASE_URL",
    "SUPABASE_JWKS_URL",
    "OPENAI_BASE_URL",
    "APPSTORE_API_BASE_URL",
    "ERROR_ALERT_WEBHOOK",
    "SECURITY_ALERT_WEBHOOK",
  ] as const;
  for (const name of urls) {
    const v = c[name];
    if (typeof v !== "string") continue;
    const url = new URL(v);
    if (url.protocol !== "https:" && !isLoopback(url)) {
      p.push({ name, message: "must be https:// (plain http only to loopback)" });
    }
  }
  return p;
}

function fail(problems: Problem[]): never {
  const names = [...new Set(problems.map((p) => p.name))];
  const lines = problems.map((p) => `${p.name} ${p.message}`);
  throw new ConfigError(`Invalid configuration: ${lines.join("; ")}`, names);
}

/** Parses and checks an environment. Pure: no caching, no Deno.env. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const raw = cleanEnv(env);
  const problems: Problem[] = [];
  const result = schema.safeParse(raw);
  const rateLimits = parseRateLimits(raw, problems);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const name = String(issue.path[0] ?? "environment");
      // zod messages describe the expectation, never echo the value.
      const message = issue.code === "invalid_type" && issue.received === "undefined"
        ? "is required"
        : issue.message.replace(/^Invalid enum value\. Expected /, "must be one of ")
          .replace(/, received .*$/, "");
      problems.push({ name, message });
    }
  }
  if (problems.length > 0 || !result.success) fail(problems);

  const parsed = result.data;
  const rateLimiting = rateLimits.rateLimiting;
  if (!rateLimiting) fail([{ name: "ENABLE_RATE_LIMITING", message: "must be true or false" }]);
  const dev = parsed.ENVIRONMENT === "development";
  if (parsed.JOB_TTL_MIN_SECONDS > parsed.JOB_TTL_DEFAULT_SECONDS) {
    problems.push({ name: "JOB_TTL_MIN_SECONDS", message: "must be ≤ JOB_TTL_DEFAULT_SECONDS" });
  }
  if (parsed.JOB_TTL_DEFAULT_SECONDS > parsed.JOB_TTL_MAX_SECONDS) {
    problems.push({ name: "JOB_TTL_MAX_SECONDS", message: "must be ≥ JOB_TTL_DEFAULT_SECONDS" });
  }
  const config: Config = {
    ...parsed,
    SUPABASE_JWT_SECRET: parsed.SUPABASE_JWT_SECRET ?? (dev ? DEV_JWT_SECRET : undefined),
    IP_HASH_SECRET: parsed.IP_HASH_SECRET ?? DEV_IP_HASH_SECRET,
    SUPABASE_JWKS_URL: parsed.SUPABASE_JWKS_URL ??
      `${parsed.SUPABASE_URL}/auth/v1/.well-known/jwks.json`,
    RATE_LIMITING: rateLimiting,
    RATE_LIMITS: rateLimits.overrides,
  };
  if (!dev) problems.push(...productionProblems(config, raw));
  if (problems.length > 0) fail(problems);
  return Object.freeze(config);
}

let cached: Config | undefined;

/** The configuration of this isolate, parsed from Deno.env on first use. */
export function getConfig(): Config {
  cached ??= parseConfig(Deno.env.toObject());
  return cached;
}

/** Forgets the cached configuration (tests that change Deno.env). */
export function resetConfigForTests(): void {
  cached = undefined;
}

/**
 * Asserts that variables a particular function needs are set, e.g.
 * `requireConfig(config, ["OPENAI_API_KEY"])`. Returns the config narrowed to non-optional keys.
 */
export function requireConfig<K extends ConfigKey>(
  config: Config,
  names: readonly K[],
): Config & { [P in K]-?: NonNullable<Config[P]> } {
  const missing = names.filter((n) => config[n] === undefined || config[n] === "");
  if (missing.length > 0) {
    fail(missing.map((name) => ({ name: String(name), message: "is required by this function" })));
  }
  return config as Config & { [P in K]-?: NonNullable<Config[P]> };
}

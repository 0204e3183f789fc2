/**
 * Rate-limit policies per route family (issue 6), overridable by environment.
 *
 * `RATE_LIMIT_<NAME>="<quota>/<windowSeconds>"` overrides one policy (e.g. RATE_LIMIT_CHAT=60/60);
 * `ENABLE_RATE_LIMITING=false` switches all limits off. The SQL side (ops.rate_limit_take) is
 * given quota and window on every call, so a changed env takes effect on the next request.
 */

/**
 * What a policy counts by. IPs are HMAC'd (IP_HASH_SECRET) before they become keys; device ids
 * are the client's validated X-Device-Id (an app-chosen opaque id, not personal data).
 */
export type RateLimitKeyKind = "account" | "device" | "ip";

export type RateLimitPolicyName =
  | "chat"
  | "speech"
  | "images"
  | "jobs.start"
  | "promo.account"
  | "promo.device"
  | "admin"
  | "unauthenticated";

export interface RateLimitPolicy {
  /** Name used in SQL state and in the RateLimit / RateLimit-Policy headers. */
  readonly name: RateLimitPolicyName;
  /** Requests admitted per window (also the largest immediate burst). */
  readonly quota: number;
  readonly windowSeconds: number;
  readonly keyKind: RateLimitKeyKind;
  /** The environment variable that overrides quota/window. */
  readonly envVar: string;
}

export interface RateLimitConfig {
  /** false when ENABLE_RATE_LIMITING=false: callers skip every limit. */
  readonly enabled: boolean;
  readonly policies: Readonly<Record<RateLimitPolicyName, RateLimitPolicy>>;
}

/** The defaults from issue 6. Promo is one env var (RATE_LIMIT_PROMO) for two keyed policies. */
export const DEFAULT_POLICIES: Readonly<Record<RateLimitPolicyName, RateLimitPolicy>> = {
  chat: policy("chat", 60, 60, "account", "RATE_LIMIT_CHAT"),
  speech: policy("speech", 120, 60, "account", "RATE_LIMIT_SPEECH"),
  images: policy("images", 10, 60, "account", "RATE_LIMIT_IMAGES"),
  "jobs.start": policy("jobs.start", 30, 60, "account", "RATE_LIMIT_JOBS_START"),
  "promo.account": policy("promo.account", 3, 3600, "account", "RATE_LIMIT_PROMO"),
  "promo.device": policy("promo.device", 3, 3600, "device", "RATE_LIMIT_PROMO"),
  admin: policy("admin", 30, 60, "ip", "RATE_LIMIT_ADMIN"),
  unauthenticated: policy("unauthenticated", 100, 60, "ip", "RATE_LIMIT_UNAUTHENTICATED"),
};

/** Largest window ops.rate_limit_take accepts (one week). */
export const MAX_WINDOW_SECONDS = 604_800;

function policy(
  name: RateLimitPolicyName,
  quota: number,
  windowSeconds: number,
  keyKind: RateLimitKeyKind,
  envVar: string,
): RateLimitPolicy {
  return Object.freeze({ name, quota, windowSeconds, keyKind, envVar });
}

/**
 * Parses "quota/windowSeconds" with the same bounds as ops.rate_limit_take, so a bad value fails
 * at start-up instead of on the first request. `quota^2 <= window in microseconds` keeps the
 * per-token interval exact enough that quota + 1 requests never fit.
 */
export function parseQuotaWindow(
  name: string,
  value: string,
): { quota: number; windowSeconds: number } {
  const match = /^\s*(\d{1,9})\s*\/\s*(\d{1,9})\s*$/.exec(value);
  if (!match) {
    throw new Error(`${name} must look like "<quota>/<windowSeconds>", e.g. "60/60"`);
  }
  const quota = Number(match[1]);
  const windowSeconds = Number(match[2]);
  if (windowSeconds < 1 || windowSeconds > MAX_WINDOW_SECONDS) {
    throw new Error(`${name}: window must be 1..${MAX_WINDOW_SECONDS} seconds`);
  }
  if (quota < 1 || quota * quota > windowSeconds * 1_000_000) {
    throw new Error(`${name}: quota must be >= 1 and at most sqrt(window in microseconds)`);
  }
  return { quota, windowSeconds };
}

/** Reads ENABLE_RATE_LIMITING: unset means on; anything but a clear boolean is an error. */
export function parseEnabled(value: string | undefined): boolean {
  if (value === undefined || value.trim() === "") return true;
  const normalized = value.trim().toLowerCase();
  if (["true", "1", "yes", "on"].includes(normalized)) return true;
  if (["false", "0", "no", "off"].includes(normalized)) return false;
  // The value is not echoed: configuration errors are logged, and env values may be secrets.
  throw new Error("ENABLE_RATE_LIMITING must be true or false");
}

export const RATE_LIMIT_ENV_PREFIX = "RATE_LIMIT_";

/** The environment variables that override a policy (RATE_LIMIT_PROMO covers two policies). */
export const RATE_LIMIT_ENV_VARS: readonly string[] = [
  ...new Set(Object.values(DEFAULT_POLICIES).map((p) => p.envVar)),
];

/** One problem with the rate-limit environment: the variable's name and what is wrong. */
export interface RateLimitEnvProblem {
  readonly name: string;
  readonly message: string;
}

/**
 * The single parser of `RATE_LIMIT_*` and `ENABLE_RATE_LIMITING` (config.ts delegates here).
 * Collects every problem instead of stopping at the first: a malformed value, or a
 * `RATE_LIMIT_<X>` that names no policy (a typo such as RATE_LIMIT_CAHT must not be ignored).
 * Messages never contain the value.
 */
export function checkRateLimitEnv(
  env: Record<string, string | undefined>,
): { config: RateLimitConfig | null; problems: RateLimitEnvProblem[] } {
  const problems: RateLimitEnvProblem[] = [];
  const known = new Set(RATE_LIMIT_ENV_VARS);
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(RATE_LIMIT_ENV_PREFIX) || known.has(name)) continue;
    if (value === undefined || value.trim() === "") continue;
    problems.push({
      name,
      message: `is not a rate-limit policy (known: ${RATE_LIMIT_ENV_VARS.join(", ")})`,
    });
  }
  const policies = {} as Record<RateLimitPolicyName, RateLimitPolicy>;
  for (const base of Object.values(DEFAULT_POLICIES)) {
    const override = env[base.envVar];
    if (override === undefined || override.trim() === "") {
      policies[base.name] = base;
      continue;
    }
    try {
      const { quota, windowSeconds } = parseQuotaWindow(base.envVar, override);
      policies[base.name] = policy(base.name, quota, windowSeconds, base.keyKind, base.envVar);
    } catch (err) {
      const message = (err as Error).message.replace(new RegExp(`^${base.envVar}:? ?`), "");
      if (!problems.some((p) => p.name === base.envVar)) {
        problems.push({ name: base.envVar, message });
      }
    }
  }
  let enabled = true;
  try {
    enabled = parseEnabled(env.ENABLE_RATE_LIMITING);
  } catch {
    problems.push({ name: "ENABLE_RATE_LIMITING", message: "must be true or false" });
  }
  if (problems.length > 0) return { config: null, problems };
  return {
    config: Object.freeze({ enabled, policies: Object.freeze(policies) }),
    problems,
  };
}

/**
 * The effective policies for an environment. Pure: pass `Deno.env.toObject()` or a test map.
 * Throws on the first problem (see checkRateLimitEnv); functions read `config.RATE_LIMITING`,
 * which config.ts builds with this same parser.
 */
export function resolvePolicies(env: Record<string, string | undefined>): RateLimitConfig {
  const { config, problems } = checkRateLimitEnv(env);
  if (!config) throw new Error(`${problems[0].name} ${problems[0].message}`);
  return config;
}

/** The state key for a subject: "account:<uuid>", "device:<hmac>", "ip:<hmac>". */
export function rateLimitKey(kind: RateLimitKeyKind, subject: string): string {
  if (subject === "") throw new Error("rate-limit subject must not be empty");
  return `${kind}:${subject}`;
}

/**
 * Rate-limit policies per route family (issue 6), overridable by environment.
 *
 * `RATE_LIMIT_<NAME>="<quota>/<windowSeconds>"` overrides one policy (e.g. RATE_LIMIT_CHAT=60/60);
 * `ENABLE_RATE_LIMITING=false` switches all limits off. The SQL side (ops.rate_limit_take) is
 * given quota and window on every call, so a changed env takes effect on the next request.
 */

/** What a policy counts by. IPs and device ids are HMAC'd before they become keys. */
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
  throw new Error(`ENABLE_RATE_LIMITING must be true or false, got "${value}"`);
}

/** The effective policies for an environment. Pure: pass `Deno.env.toObject()` or a test map. */
export function resolvePolicies(env: Record<string, string | undefined>): RateLimitConfig {
  const policies = {} as Record<RateLimitPolicyName, RateLimitPolicy>;
  for (const base of Object.values(DEFAULT_POLICIES)) {
    const override = env[base.envVar];
    if (override === undefined || override.trim() === "") {
      policies[base.name] = base;
      continue;
    }
    const { quota, windowSeconds } = parseQuotaWindow(base.envVar, override);
    policies[base.name] = policy(base.name, quota, windowSeconds, base.keyKind, base.envVar);
  }
  return Object.freeze({
    enabled: parseEnabled(env.ENABLE_RATE_LIMITING),
    policies: Object.freeze(policies),
  });
}

/** The state key for a subject: "account:<uuid>", "device:<hmac>", "ip:<hmac>". */
export function rateLimitKey(kind: RateLimitKeyKind, subject: string): string {
  if (subject === "") throw new Error("rate-limit subject must not be empty");
  return `${kind}:${subject}`;
}

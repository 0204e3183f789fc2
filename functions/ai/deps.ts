/** What the ai routes share: configuration, database, the upstream client and rate-limit policies. */
import type { Config } from "../_shared/config.ts";
import type { Sql } from "../_shared/db/client.ts";
import { DEFAULT_POLICIES, type RateLimitPolicy } from "../_shared/ratelimit/policies.ts";
import { UpstreamClient } from "../_shared/upstream/mod.ts";
import type { AiKind } from "./ledger.ts";

export interface AiSettings {
  /** Silence allowed between two upstream stream chunks (or while reading a JSON body). */
  streamIdleTimeoutMs: number;
  /** Longest a streamed answer may run before it is cut (keeps settlement bounded). */
  streamMaxMs: number;
  /** The breaker's cool-down (Retry-After of a fast 503). */
  breakerCoolDownMs: number;
}

export interface AiDeps {
  config: Config;
  /** The database client (resolved per request so tests can inject one). */
  sql: () => Sql;
  /** One per app (isolate): owns the provider key and the circuit breaker. */
  upstream: UpstreamClient;
  /** Per route family; null when ENABLE_RATE_LIMITING=false. */
  policies: Record<AiKind, RateLimitPolicy | null>;
  settings: AiSettings;
}

/** chat 60/60, speech 120/60, images 10/60 per account unless RATE_LIMIT_<NAME> overrides. */
export function aiPolicies(config: Config): Record<AiKind, RateLimitPolicy | null> {
  const policy = (name: AiKind): RateLimitPolicy | null => {
    if (!config.ENABLE_RATE_LIMITING) return null;
    const base = DEFAULT_POLICIES[name];
    const override = config.RATE_LIMITS[name];
    if (!override) return base;
    return Object.freeze({ ...base, quota: override.limit, windowSeconds: override.windowSeconds });
  };
  return { chat: policy("chat"), speech: policy("speech"), images: policy("images") };
}

export function aiSettings(config: Config): AiSettings {
  return {
    streamIdleTimeoutMs: config.OPENAI_STREAM_IDLE_TIMEOUT_MS,
    streamMaxMs: config.OPENAI_STREAM_MAX_MS,
    breakerCoolDownMs: config.OPENAI_BREAKER_COOLDOWN_MS,
  };
}

/** The provider client: timeouts, retries and breaker from the OPENAI_* settings. */
export function createUpstream(config: Config & { OPENAI_API_KEY: string }): UpstreamClient {
  return new UpstreamClient({
    baseUrl: config.OPENAI_BASE_URL,
    apiKey: config.OPENAI_API_KEY,
    firstByteTimeoutMs: config.OPENAI_TIMEOUT_MS,
    deadlineMs: config.OPENAI_DEADLINE_MS,
    maxAttempts: config.OPENAI_MAX_ATTEMPTS,
    baseDelayMs: config.OPENAI_RETRY_BASE_MS,
    breakerOptions: {
      consecutiveFailures: config.OPENAI_BREAKER_FAILURES,
      coolDownMs: config.OPENAI_BREAKER_COOLDOWN_MS,
      minCallsInWindow: config.OPENAI_BREAKER_MIN_CALLS,
    },
  });
}

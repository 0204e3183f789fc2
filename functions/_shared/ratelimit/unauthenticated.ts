/**
 * The "unauthenticated" limit (issue 6: 100 requests/min per client IP) and the audit of 401s.
 *
 * Where it runs, and why there: a request that authenticates is limited per account on its
 * own hot path, so it must not pay for an IP limit too. Only two kinds of request reach this:
 *
 * - `authFailureGuard()` — in front of `auth()`: when the request ends in 401, ONE SQL call
 *   (api.auth_failed) takes a token from the client IP's bucket and writes the security audit
 *   row `auth.failed` (ip_hash = HMAC of the IP). Within quota the 401 stands, with RateLimit
 *   headers; over quota it becomes 429 RATE_LIMITED with Retry-After (and no audit row, so a
 *   flood writes at most `quota` rows per window). Successful requests cost nothing extra.
 * - `unauthenticatedRateLimit()` — for routes without identity at all (health): one take per
 *   request on the same bucket before the handler.
 *
 * Both key by `ip:<HMAC(IP_HASH_SECRET, client IP or IPv6 /64)>` (see client_ip.ts for the
 * client-IP rule) and are skipped entirely when ENABLE_RATE_LIMITING=false (401s are still
 * audited then).
 */
import type { MiddlewareHandler } from "hono";
import type { Config } from "../config.ts";
import { getSql, type Sql } from "../db/client.ts";
import { matchedRoutes } from "hono/route";
import { mapDbError } from "../db/errors.ts";
import { ApiError, apiErrorResponse } from "../http/errors.ts";
import type { AppEnv } from "../http/types.ts";
import { clientIp, clientIpKey, hashClientIp, ipRateLimitSubject } from "./client_ip.ts";
import { decisionFromRow, type RateLimitDecision, type RateLimitTakeRow } from "./decision.ts";
import { rateLimitedError } from "./errors.ts";
import { rateLimitHeaders } from "./headers.ts";
import { rateLimit } from "./middleware.ts";
import { createSqlRateLimitTaker } from "./take.ts";

export interface UnauthenticatedLimitOptions {
  /** Database client (default: the isolate's getSql(config)). */
  sql?: () => Sql;
}

/** The IP the audit row and the bucket use when no trusted client IP header is present. */
export const UNKNOWN_IP_HASH = "unknown";

function sqlFor(config: Config, options: UnauthenticatedLimitOptions): Sql {
  return options.sql ? options.sql() : getSql(config);
}

/** ip_hash for the request: HMAC of the trusted client IP, or "unknown". */
async function ipHashOf(headers: Headers, secret: string): Promise<string> {
  const ip = clientIp(headers);
  return ip === null ? UNKNOWN_IP_HASH : await hashClientIp(ipRateLimitSubject(ip), secret);
}

/**
 * Why the request was refused: the auth middleware's `details.reason` (bad_signature,
 * token_expired, ...), or for a 401 raised by SQL (a wrong job token) its detail in lower case
 * (job_token_invalid, job_device_mismatch).
 */
export function failureReason(error: unknown): string {
  const e = error instanceof ApiError ? error : mapDbError(error);
  if (typeof e?.details?.reason === "string") return e.details.reason;
  if (e && /^[A-Z][A-Z0-9_]{2,63}$/.test(e.message)) return e.message.toLowerCase();
  return "unauthorized";
}

interface AuthFailedRow extends RateLimitTakeRow {
  remaining: number;
}

/**
 * Place BEFORE `auth()`: `app.use("*", authFailureGuard()); app.use("*", auth());`.
 * Turns a 401 into the audited, IP-limited 401 (or 429) described above.
 */
export function authFailureGuard(
  options: UnauthenticatedLimitOptions = {},
): MiddlewareHandler<AppEnv> {
  return async function authFailureGuardMiddleware(c, next) {
    await next();
    if (c.res.status !== 401) return;

    const config = c.get("config");
    const policy = config.RATE_LIMITING.policies.unauthenticated;
    const limited = config.RATE_LIMITING.enabled;
    const reason = failureReason(c.error);
    // Who, when known (e.g. a signed-in caller with a wrong job token), and which route pattern
    // (never the raw path: it may hold ids).
    const metadata: Record<string, unknown> = {
      method: c.req.method,
      route: matchedRoutes(c).filter((r) => r.method !== "ALL").at(-1)?.path ?? "(unmatched)",
    };
    const account = c.get("account");
    if (account) metadata.account = account;
    let decision: RateLimitDecision | null = null;
    try {
      const ipHash = await ipHashOf(c.req.raw.headers, config.IP_HASH_SECRET);
      const [row] = await sqlFor(config, options)<AuthFailedRow[]>`
        select allowed, remaining, reset_seconds, retry_after_seconds
          from api.auth_failed(
            ${ipHash}::text, ${limited ? policy.quota : null}::int,
            ${limited ? policy.windowSeconds : null}::int, ${c.get("functionName")}::text,
            ${reason}::text, ${c.get("requestId")}::text, ${
        JSON.stringify(metadata)
      }::text::jsonb)`;
      if (limited) decision = decisionFromRow(policy, row);
    } catch (error) {
      // The 401 stands; losing its audit row must not turn it into a 500.
      c.get("log")?.error("auth failure audit failed", { error });
      return;
    }
    if (!decision) return;
    if (decision.allowed) {
      for (const [name, value] of Object.entries(rateLimitHeaders([decision]))) {
        c.res.headers.set(name, value);
      }
      return;
    }
    c.set("errorCode", "RATE_LIMITED");
    c.res = undefined as unknown as Response;
    c.res = apiErrorResponse(rateLimitedError(decision), c.get("requestId"));
  };
}

/**
 * The "unauthenticated" limit for routes without identity (e.g. health): one take on the client
 * IP's bucket before the handler; 429 RATE_LIMITED with RateLimit headers over quota.
 */
export function unauthenticatedRateLimit(
  config: Config,
  options: UnauthenticatedLimitOptions = {},
): MiddlewareHandler {
  return rateLimit({
    policy: config.RATE_LIMITING.policies.unauthenticated,
    enabled: config.RATE_LIMITING.enabled,
    key: (c) => clientIpKey(c.req.raw.headers, config.IP_HASH_SECRET),
    take: (policy, key, cost) =>
      createSqlRateLimitTaker(sqlFor(config, options))(policy, key, cost),
    onLimited: (_c, decision) => {
      throw rateLimitedError(decision);
    },
  });
}

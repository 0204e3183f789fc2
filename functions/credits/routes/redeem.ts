/**
 * POST /credits/redeem {code} — redeem a promo (review) code.            (issue 6, "Promo codes")
 *
 * Needs the caller's token and an `X-Device-Id` (one redemption per device is a rule, so a
 * request without a device is refused: 400). Everything is decided in ONE SQL call,
 * api.promo_redeem, in one transaction: kill switch credits.redeem -> account -> rate limits
 * promo.account and promo.device (3/hour each) -> block check -> constant-time code check ->
 * one redemption per account and per device -> cap -> ledger grant + redemption row.
 *
 *   200 {redeemed, campaign, credits, balance, available}
 *   400 VALIDATION_FAILED      bad body, or no X-Device-Id
 *   403 BLOCKED                5 failed codes within 24 h blocked the account and device for
 *                              24 h (Retry-After = seconds left)
 *   409 CONFLICT               details.reason already_redeemed (by account | device) or
 *                              campaign_exhausted
 *   422 UNPROCESSABLE          details.reason invalid_code (remainingAttempts before the
 *                              block) or code_not_active (disabled | not_yet_valid | expired)
 *   429 RATE_LIMITED           3 attempts per hour per account / per device (Retry-After)
 *   503 MAINTENANCE            flag credits.redeem is off (Retry-After)
 * Every response that reached the limits carries RateLimit-Policy / RateLimit.
 *
 * REVIEW_CODE: the first redeem in an isolate upserts the default campaign (name review-code)
 * with SHA-256 of REVIEW_CODE and REVIEW_GRANT_AMOUNT credits (api.promo_sync_default_campaign,
 * idempotent, no write when unchanged); with REVIEW_CODE unset it is switched off.
 *
 * Mount: append `redeemRoutes` to CREDITS_ROUTES in functions/credits/app.ts.
 */
import { z } from "zod";
import type { Config } from "../../_shared/config.ts";
import type { Sql } from "../../_shared/db/client.ts";
import { callFunction } from "../../_shared/db/call.ts";
import { clientIpHash } from "../../_shared/audit/client_ip_hash.ts";
import { ApiError } from "../../_shared/http/errors.ts";
import { validate } from "../../_shared/http/validate/index.ts";
import type { Logger } from "../../_shared/log/logger.ts";
import type { RateLimitDecision } from "../../_shared/ratelimit/decision.ts";
import { rateLimitedError } from "../../_shared/ratelimit/errors.ts";
import { rateLimitHeaders } from "../../_shared/ratelimit/headers.ts";
import type { RateLimitPolicyName } from "../../_shared/ratelimit/policies.ts";
import type { CreditsRoutes } from "../deps.ts";
import { MAX_PROMO_CODE_INPUT, promoCodeHash } from "./promo_code.ts";

const RedeemBody = z.object({
  code: z.string().min(1).max(MAX_PROMO_CODE_INPUT),
});

/** One row of api.promo_redeem (bigints arrive as strings). */
export interface PromoRedeemRow {
  outcome:
    | "redeemed"
    | "invalid_code"
    | "blocked"
    | "not_active"
    | "already_redeemed"
    | "exhausted"
    | "rate_limited"
    | "maintenance";
  reason: string | null;
  campaign: string | null;
  amount: string | null;
  balance: string | null;
  available: string | null;
  retry_after_seconds: number | null;
  failures_remaining: number | null;
  rate_limits: {
    policy: string;
    remaining: number;
    reset: number;
    retryAfter: number;
    allowed: boolean;
  }[];
}

export const redeemRoutes: CreditsRoutes = (app, deps) => {
  app.post("/redeem", validate("json", RedeemBody), async (c) => {
    const deviceId = c.var.deviceId;
    if (!deviceId) {
      throw new ApiError("VALIDATION_FAILED", "X-Device-Id is required to redeem a code", {
        fields: [{ path: "headers.x-device-id", message: "Required" }],
      });
    }
    const { config } = deps;
    const sql = deps.sql();
    await syncDefaultCampaign(sql, config, c.var.log);

    const limits = config.RATE_LIMITING;
    const policy = limits.policies["promo.account"]; // RATE_LIMIT_PROMO sets both promo policies
    const codeHash = await promoCodeHash(c.req.valid("json").code);
    const ipHash = await clientIpHash(c.req.raw.headers, config.IP_HASH_SECRET);
    const [row] = await callFunction<PromoRedeemRow>(
      sql,
      "api.promo_redeem",
      [
        [c.var.account, "uuid"],
        [deviceId, "text"],
        [codeHash, "bytea"],
        [config.INITIAL_GRANT, "int"],
        [limits.enabled ? policy.quota : null, "int"],
        [limits.enabled ? policy.windowSeconds : null, "int"],
        [ipHash, "text"],
        [c.var.requestId, "text"],
      ],
      "outcome, reason, campaign, amount, balance, available, retry_after_seconds, failures_remaining, rate_limits",
    );

    const decisions = decisionsOf(row, config);
    const headers = rateLimitHeaders(decisions);
    if (row.outcome !== "redeemed") throw refusal(row, decisions, headers);
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
    return c.json({
      redeemed: true,
      campaign: row.campaign,
      credits: Number(row.amount),
      balance: Number(row.balance),
      available: Number(row.available),
    });
  });
};

function decisionsOf(row: PromoRedeemRow, config: Config): RateLimitDecision[] {
  return (row.rate_limits ?? []).map((r) => ({
    policy: config.RATE_LIMITING.policies[r.policy as RateLimitPolicyName],
    allowed: r.allowed,
    remaining: r.remaining,
    resetSeconds: r.reset,
    retryAfterSeconds: r.retryAfter,
  }));
}

/** The error for every outcome but "redeemed". */
export function refusal(
  row: PromoRedeemRow,
  decisions: RateLimitDecision[],
  headers: Record<string, string>,
): ApiError {
  const retryAfter = Math.max(1, row.retry_after_seconds ?? 1);
  switch (row.outcome) {
    case "maintenance":
      return new ApiError(
        "MAINTENANCE",
        "Redeeming codes is switched off for maintenance; retry later",
        { flag: row.reason, retryAfterSeconds: retryAfter },
        { headers: { "Retry-After": String(retryAfter) } },
      );
    case "rate_limited":
      return rateLimitedError(decisions);
    case "blocked":
      return new ApiError(
        "BLOCKED",
        "Too many invalid codes: redeeming is blocked for this account and device",
        { retryAfterSeconds: retryAfter, ...(row.reason ? { reason: row.reason } : {}) },
        { headers: { ...headers, "Retry-After": String(retryAfter) } },
      );
    case "invalid_code":
      return new ApiError("UNPROCESSABLE", "This code is not valid", {
        reason: "invalid_code",
        remainingAttempts: row.failures_remaining,
      }, { headers });
    case "not_active":
      return new ApiError("UNPROCESSABLE", "This code cannot be redeemed now", {
        reason: "code_not_active",
        status: row.reason,
      }, { headers });
    case "already_redeemed":
      return new ApiError(
        "CONFLICT",
        row.reason === "device"
          ? "This code was already redeemed on this device"
          : "This code was already redeemed by this account",
        { reason: "already_redeemed", by: row.reason },
        { headers },
      );
    case "exhausted":
      return new ApiError("CONFLICT", "This code has been fully redeemed", {
        reason: "campaign_exhausted",
      }, { headers });
    default:
      return new ApiError("INTERNAL", "Internal error", undefined, {
        cause: new Error(`unexpected promo outcome ${row.outcome}`),
      });
  }
}

// ---------------------------------------------------------------------------------------------
// REVIEW_CODE -> default campaign, once per isolate (and again after a failure).
// ---------------------------------------------------------------------------------------------

const synced = new Map<string, Promise<void>>();

/** Upserts the default campaign from REVIEW_CODE / REVIEW_GRANT_AMOUNT once per isolate. */
export function syncDefaultCampaign(sql: Sql, config: Config, log?: Logger): Promise<void> {
  const key = `${config.REVIEW_CODE ?? ""}\u0000${config.REVIEW_GRANT_AMOUNT}`;
  let done = synced.get(key);
  if (!done) {
    done = (async () => {
      const hash = config.REVIEW_CODE ? await promoCodeHash(config.REVIEW_CODE) : null;
      await sql`select * from api.promo_sync_default_campaign(${hash}::bytea, ${config.REVIEW_GRANT_AMOUNT}::bigint)`;
    })().catch((error) => {
      // Redeeming other codes still works; the next request retries the sync.
      synced.delete(key);
      log?.error("REVIEW_CODE campaign sync failed", { error });
    });
    synced.set(key, done);
  }
  return done;
}

/** Forgets which REVIEW_CODE was synced (tests that change it). */
export function resetDefaultCampaignSyncForTests(): void {
  synced.clear();
}

/**
 * Rate-limit calls for routes that make no other SQL call (admin, unauthenticated). Hot paths
 * take their token inside their own api.* function instead. Each call is one round trip
 * (callFunction inlines the arguments).
 */
import type { Sql } from "postgres";
import { callFunction } from "../db/call.ts";
import { decisionFromRow, type RateLimitDecision, type RateLimitTakeRow } from "./decision.ts";
import type { RateLimitPolicy } from "./policies.ts";

/** Takes `cost` tokens from the bucket (policy, key) and returns the decision. */
export type RateLimitTaker = (
  policy: RateLimitPolicy,
  key: string,
  cost?: number,
) => Promise<RateLimitDecision>;

/** Gives back `cost` tokens a failed upstream call took. */
export type RateLimitRefunder = (
  policy: RateLimitPolicy,
  key: string,
  cost?: number,
) => Promise<void>;

/** A taker backed by `api.rate_limit_take` (postgres.js connected as tollgate_api). */
export function createSqlRateLimitTaker(sql: Sql): RateLimitTaker {
  return async (policy, key, cost = 1) => {
    const rows = await callFunction<RateLimitTakeRow>(sql, "api.rate_limit_take", [
      [policy.name, "text"],
      [key, "text"],
      [policy.quota, "int"],
      [policy.windowSeconds, "int"],
      [cost, "int"],
    ], "allowed, remaining, reset_seconds, retry_after_seconds");
    return decisionFromRow(policy, rows[0]);
  };
}

/** A refunder backed by `api.rate_limit_refund`. */
export function createSqlRateLimitRefunder(sql: Sql): RateLimitRefunder {
  return async (policy, key, cost = 1) => {
    await callFunction(sql, "api.rate_limit_refund", [
      [policy.name, "text"],
      [key, "text"],
      [cost, "int"],
    ]);
  };
}

/**
 * The two SQL round trips of a paid AI call: api.ai_begin before the upstream, api.ai_settle
 * after it. Nothing else in the hot path touches the database. Both go out as statements with
 * inlined, typed literals (_shared/db/call.ts), so each is ONE network round trip.
 */
import { mapDbError } from "../_shared/db/errors.ts";
import type { Sql } from "../_shared/db/client.ts";
import type { Logger } from "../_shared/log/logger.ts";
import type { UnitPrices } from "./pricing.ts";
import { callFunction } from "../_shared/db/call.ts";

export type AiKind = "chat" | "speech" | "images";

export interface BeginRequest {
  account: string;
  kind: AiKind;
  model: string;
  streamed: boolean;
  /** chat: upper bound of prompt tokens; speech: characters; images: 0. */
  inputUnits: number;
  /** chat: requested max tokens (null = the model's cap); images: n. */
  outputUnits: number | null;
  voice?: string | null;
  size?: string | null;
  quality?: string | null;
  job: { jobId: string; tokenHash: Uint8Array } | null;
  deviceId: string | null;
  /** null = rate limits off. */
  rateLimit: { quota: number; windowSeconds: number } | null;
  initialGrant: number;
  idempotency: { key: string; requestHash: string } | null;
  requestId: string;
}

/** A call api.ai_begin let through: its generation, reservation and frozen prices. */
export interface StartedCall {
  generationId: string;
  reserved: number;
  /** chat: max tokens to send upstream; images: n. */
  maxOutputUnits: number | null;
  size: string | null;
  quality: string | null;
  prices: UnitPrices;
}

export type BeginResult =
  | ({ outcome: "started"; rateLimit: RateLimitState | null } & StartedCall)
  | {
    outcome: "refused";
    generationId: string;
    code: string;
    message: string;
    details: Record<string, unknown> | null;
    rateLimit: RateLimitState | null;
  }
  | { outcome: "replay"; status: number; body: unknown };

export interface RateLimitState {
  remaining: number;
  resetSeconds: number;
}

interface BeginRow {
  outcome: "started" | "refused" | "replay";
  generation_id: string | null;
  reserved: string;
  max_output_units: string | null;
  size: string | null;
  quality: string | null;
  price_request_micro: string;
  price_input_micro: string;
  price_output_micro: string;
  error_code: string | null;
  error_message: string | null;
  error_details: Record<string, unknown> | null;
  replay_status: number | null;
  replay_body: unknown;
  rate_limit_remaining: number | null;
  rate_limit_reset_seconds: number | null;
}

/** Round trip 1. Raises (as ApiError) MAINTENANCE, RATE_LIMITED and idempotency conflicts. */
export async function beginCall(sql: Sql, r: BeginRequest): Promise<BeginResult> {
  let row: BeginRow;
  try {
    [row] = await callFunction<BeginRow>(sql, "api.ai_begin", [
      [r.account, "uuid"],
      [r.kind, "text"],
      [r.model, "text"],
      [r.streamed, "boolean"],
      [r.inputUnits, "bigint"],
      [r.outputUnits, "bigint"],
      [r.voice ?? null, "text"],
      [r.size ?? null, "text"],
      [r.quality ?? null, "text"],
      [r.job?.jobId ?? null, "uuid"],
      [r.job?.tokenHash ?? null, "bytea"],
      [r.deviceId, "text"],
      [r.rateLimit?.quota ?? null, "int"],
      [r.rateLimit?.windowSeconds ?? null, "int"],
      [r.initialGrant, "int"],
      [r.idempotency?.key ?? null, "text"],
      [r.idempotency?.requestHash ?? null, "text"],
      [r.requestId, "text"],
    ]);
  } catch (err) {
    throw mapDbError(err) ?? err;
  }
  const rateLimit = row.rate_limit_remaining === null || row.rate_limit_reset_seconds === null
    ? null
    : { remaining: row.rate_limit_remaining, resetSeconds: row.rate_limit_reset_seconds };
  if (row.outcome === "replay") {
    return { outcome: "replay", status: row.replay_status ?? 200, body: row.replay_body };
  }
  if (row.outcome === "refused") {
    return {
      outcome: "refused",
      generationId: row.generation_id ?? "",
      code: row.error_code ?? "INTERNAL",
      message: row.error_message ?? "Refused",
      details: row.error_details,
      rateLimit,
    };
  }
  return {
    outcome: "started",
    generationId: row.generation_id ?? "",
    reserved: Number(row.reserved),
    maxOutputUnits: row.max_output_units === null ? null : Number(row.max_output_units),
    size: row.size,
    quality: row.quality,
    prices: {
      requestMicro: Number(row.price_request_micro),
      inputMicro: Number(row.price_input_micro),
      outputMicro: Number(row.price_output_micro),
    },
    rateLimit,
  };
}

export interface SettleRequest {
  account: string;
  generationId: string;
  status: "succeeded" | "partial" | "failed";
  errorCode: string | null;
  inputUnits: number | null;
  outputUnits: number | null;
  usageSource: "upstream" | "estimated" | null;
  upstreamStatus: number | null;
  attempts: number | null;
  latencyMs: number | null;
  durationMs: number;
  giveBackRateLimit: boolean;
  /** Stored for Idempotency-Key replays (null = release the key). */
  response: { status: number; body: unknown } | null;
}

export interface SettleResult {
  applied: boolean;
  status: string;
  reserved: number;
  charged: number;
  refunded: number;
}

interface SettleRow {
  applied: boolean;
  status: string;
  reserved: string;
  charged: string;
  refunded: string;
}

const SETTLE_RETRY_DELAYS_MS = [50, 250, 1000];

/**
 * Round trip 2. Retried a few times on failure (it is idempotent: a repeat changes nothing);
 * if the database stays unreachable the call is left running and api.ai_settle_stale gives its
 * reservation back later. Never throws.
 */
export async function settleCall(
  sql: Sql,
  s: SettleRequest,
  log?: Logger,
): Promise<SettleResult | null> {
  for (let attempt = 0;; attempt++) {
    try {
      const [row] = await callFunction<SettleRow>(sql, "api.ai_settle", [
        [s.account, "uuid"],
        [s.generationId, "uuid"],
        [s.status, "text"],
        [s.errorCode, "text"],
        [s.inputUnits, "bigint"],
        [s.outputUnits, "bigint"],
        [s.usageSource, "text"],
        [s.upstreamStatus, "int"],
        [s.attempts, "int"],
        [s.latencyMs, "int"],
        [Math.round(s.durationMs), "int"],
        [s.giveBackRateLimit, "boolean"],
        [s.response?.status ?? null, "int"],
        [s.response?.body ?? null, "jsonb"],
      ], "applied, status, reserved, charged, refunded");
      return {
        applied: row.applied,
        status: row.status,
        reserved: Number(row.reserved),
        charged: Number(row.charged),
        refunded: Number(row.refunded),
      };
    } catch (err) {
      if (attempt >= SETTLE_RETRY_DELAYS_MS.length) {
        log?.error("ai: settlement failed; the stale sweeper will release the reservation", {
          generationId: s.generationId,
          error: err,
        });
        return null;
      }
      await new Promise((r) => setTimeout(r, SETTLE_RETRY_DELAYS_MS[attempt]));
    }
  }
}

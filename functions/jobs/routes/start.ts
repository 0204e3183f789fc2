/**
 * POST /jobs {amount, ttlSeconds?} → 201 {jobId, jobToken, amount, expiresAt, available}
 *
 * ONE SQL call (api.jobs_start): kill switch jobs.start (503 MAINTENANCE + Retry-After),
 * account creation on first use, the jobs.start rate limit (429 + Retry-After; RateLimit headers
 * on every answer that took a token), the Idempotency-Key lookup/replay and the hold itself.
 *
 * Idempotency-Key is optional but strongly recommended: with it, a retried start returns the
 * same job and the same token (derived from the key, see deriveJobToken) with
 * `Idempotent-Replayed: true`; without it, a retry after a lost response holds credits twice
 * (until the first job expires or is cancelled). The key is bound to method, path, body and
 * X-Device-Id.
 */
import { mapDbError } from "../../_shared/db/errors.ts";
import { callFunction } from "../../_shared/db/call.ts";
import type { Hono } from "hono";
import type { AuthEnv } from "../../_shared/auth/middleware/index.ts";
import { hashRequest } from "../../_shared/idempotency/hash.ts";
import { IDEMPOTENT_REPLAYED_HEADER, readIdempotencyKey } from "../../_shared/idempotency/key.ts";
import { jobTokenSecret } from "../../_shared/jobs/secret.ts";
import { deriveJobToken, generateJobToken } from "../../_shared/jobs/token.ts";
import { validate } from "../../_shared/http/validate/index.ts";
import { setRateLimitHeaders } from "../../_shared/ratelimit/headers.ts";
import type { JobsDeps } from "../deps.ts";
import { startBody } from "../schemas.ts";

interface StartRow {
  replayed: boolean;
  response_status: number;
  response: { jobId: string; amount: number; expiresAt: string; available: number };
  rate_limit_remaining: number | null;
  rate_limit_reset_seconds: number | null;
}

export function registerStart(app: Hono<AuthEnv>, deps: JobsDeps): void {
  const { config } = deps;
  app.post("/", validate("json", startBody(config)), async (c) => {
    const body = c.req.valid("json");
    const account = c.var.account;
    const device = c.var.deviceId;
    const key = readIdempotencyKey(c);
    const hash = key === null ? null : await hashRequest(c, [device ?? ""]);
    const token = key === null
      ? await generateJobToken()
      : await deriveJobToken(jobTokenSecret(config), account, key);
    const policy = deps.startPolicy;
    const ttl = body.ttlSeconds ?? config.JOB_TTL_DEFAULT_SECONDS;

    let row: StartRow;
    try {
      const sql = deps.sql();
      [row] = await callFunction<StartRow>(sql, "api.jobs_start", [
        [account, "uuid"],
        [config.INITIAL_GRANT, "int"],
        [policy?.quota ?? null, "int"],
        [policy?.windowSeconds ?? null, "int"],
        [body.amount, "bigint"],
        [ttl, "int"],
        [device, "text"],
        [token.hash, "bytea"],
        [key, "text"],
        [hash, "text"],
      ], "replayed, response_status, response, rate_limit_remaining, rate_limit_reset_seconds");
    } catch (err) {
      throw mapDbError(err) ?? err;
    }

    if (policy && row.rate_limit_remaining !== null && row.rate_limit_reset_seconds !== null) {
      setRateLimitHeaders(c, {
        policy,
        allowed: true,
        remaining: row.rate_limit_remaining,
        resetSeconds: row.rate_limit_reset_seconds,
        retryAfterSeconds: 0,
      });
    }
    if (row.replayed) c.header(IDEMPOTENT_REPLAYED_HEADER, "true");
    c.header("Cache-Control", "no-store");
    const { jobId, amount, expiresAt, available } = row.response;
    return c.json({ jobId, jobToken: token.token, amount, expiresAt, available }, 201);
  });
}

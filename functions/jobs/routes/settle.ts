/**
 * POST /jobs/:id/commit {amount?} → 200 {jobId, status, amount, spent, debited, released,
 *                                        balance, held, available}
 * POST /jobs/:id/cancel            → 200 (same shape; debits what was already spent, usually 0)
 * POST /jobs/:id/extend {amount?, ttlSeconds?} → 200 {jobId, status, amount, spent, remaining,
 *                                        expiresAt, balance, held, available}
 *
 * One SQL call each (api.jobs_commit / jobs_cancel / jobs_extend): device binding, optional
 * Idempotency-Key (replay with Idempotent-Replayed: true, 422 reused, 409 in use), the
 * settlement. commit amount defaults to the whole hold; 0 is allowed (nothing was used).
 */
import type { Context, Hono } from "hono";
import type { AuthEnv } from "../../_shared/auth/middleware/index.ts";
import { callFunction } from "../../_shared/db/call.ts";
import { hashRequest } from "../../_shared/idempotency/hash.ts";
import { readIdempotencyKey } from "../../_shared/idempotency/key.ts";
import { optionalJsonBody } from "../body.ts";
import type { JobsDeps } from "../deps.ts";
import { type ComposedRow, respond } from "../respond.ts";
import { cancelBody, commitBody, extendBody, jobIdParam } from "../schemas.ts";

const COLUMNS = "replayed, response_status, response";

async function idempotencyArgs(c: Context<AuthEnv>) {
  const key = readIdempotencyKey(c);
  const hash = key === null ? null : await hashRequest(c, [c.var.deviceId ?? ""]);
  return { key, hash };
}

export function registerSettle(app: Hono<AuthEnv>, deps: JobsDeps): void {
  const commitSchema = commitBody(deps.config);
  const extendSchema = extendBody(deps.config);

  app.post("/:id/commit", async (c) => {
    const id = jobIdParam(c.req.param("id"));
    const body = await optionalJsonBody(c, commitSchema);
    const { key, hash } = await idempotencyArgs(c);
    const sql = deps.sql();
    const [row] = await callFunction<ComposedRow>(sql, "api.jobs_commit", [
      [c.var.account, "uuid"],
      [id, "uuid"],
      [body.amount ?? null, "bigint"],
      [c.var.deviceId, "text"],
      [key, "text"],
      [hash, "text"],
    ], COLUMNS);
    return respond(c, row);
  });

  app.post("/:id/cancel", async (c) => {
    const id = jobIdParam(c.req.param("id"));
    await optionalJsonBody(c, cancelBody);
    const { key, hash } = await idempotencyArgs(c);
    const sql = deps.sql();
    const [row] = await callFunction<ComposedRow>(sql, "api.jobs_cancel", [
      [c.var.account, "uuid"],
      [id, "uuid"],
      [c.var.deviceId, "text"],
      [key, "text"],
      [hash, "text"],
    ], COLUMNS);
    return respond(c, row);
  });

  app.post("/:id/extend", async (c) => {
    const id = jobIdParam(c.req.param("id"));
    const body = await optionalJsonBody(c, extendSchema);
    const { key, hash } = await idempotencyArgs(c);
    const sql = deps.sql();
    const [row] = await callFunction<ComposedRow>(sql, "api.jobs_extend", [
      [c.var.account, "uuid"],
      [id, "uuid"],
      [body.amount ?? 0, "bigint"],
      [body.ttlSeconds ?? 0, "int"],
      [c.var.deviceId, "text"],
      [key, "text"],
      [hash, "text"],
    ], COLUMNS);
    return respond(c, row);
  });
}

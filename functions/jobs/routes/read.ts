/**
 * GET /jobs/:id → {jobId, status, amount, spent, remaining, debited, expiresAt, createdAt,
 * settledAt, deviceBound}. status reads "expired" as soon as a pending job is past its expiry.
 * Another account's job is JOB_NOT_FOUND, exactly like a missing one.
 */
import type { Hono } from "hono";
import type { AuthEnv } from "../../_shared/auth/middleware/index.ts";
import { callFunction } from "../../_shared/db/call.ts";
import type { JobsDeps } from "../deps.ts";
import { jobIdParam } from "../schemas.ts";

interface JobRow {
  job_id: string;
  status: string;
  amount: string;
  spent: string;
  remaining: string;
  debited: string | null;
  expires_at: Date;
  created_at: Date;
  settled_at: Date | null;
  device_bound: boolean;
}

export function registerRead(app: Hono<AuthEnv>, deps: JobsDeps): void {
  app.get("/:id", async (c) => {
    const id = jobIdParam(c.req.param("id"));
    const sql = deps.sql();
    const [job] = await callFunction<JobRow>(
      sql,
      "api.get_job",
      [[c.var.account, "uuid"], [id, "uuid"]],
      "job_id, status, amount, spent, remaining, debited, expires_at, created_at, settled_at, device_bound",
    );
    c.header("Cache-Control", "no-store");
    return c.json({
      jobId: job.job_id,
      status: job.status,
      amount: Number(job.amount),
      spent: Number(job.spent),
      remaining: Number(job.remaining),
      debited: job.debited === null ? null : Number(job.debited),
      expiresAt: job.expires_at.toISOString(),
      createdAt: job.created_at.toISOString(),
      settledAt: job.settled_at?.toISOString() ?? null,
      deviceBound: job.device_bound,
    });
  });
}

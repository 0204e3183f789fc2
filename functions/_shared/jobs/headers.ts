/**
 * `X-Job-Id` + `X-Job-Token`: how clients present a job to the AI proxy (issue 4).
 *
 *   const job = await readJobCredentials(c);      // null when neither header is sent
 *   if (job) await sql`select * from api.authorize_job(${account}, ${job.jobId}, ${job.tokenHash}, ${deviceId})`
 *
 * Both headers or neither: one without the other, a non-UUID id or a token that is not 43
 * base64url characters is 400 VALIDATION_FAILED (the token is never echoed). Whether the token
 * matches, the job belongs to the account, the device matches and the job is pending and
 * unexpired is decided by SQL (api.authorize_job / api.spend_on_job with p_token_hash):
 * JOB_NOT_FOUND 404, UNAUTHORIZED 401 (detail JOB_TOKEN_INVALID | JOB_DEVICE_MISMATCH),
 * JOB_EXPIRED 410, JOB_NOT_PENDING 409.
 */
import type { Context } from "hono";
import { ApiError } from "../http/errors.ts";
import { hashJobToken, isWellFormedJobToken } from "./token.ts";

export const JOB_ID_HEADER = "X-Job-Id";
export const JOB_TOKEN_HEADER = "X-Job-Token";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

export interface JobCredentials {
  /** Lower-case UUID of the job. */
  jobId: string;
  /** SHA-256 of the presented token bytes (32 bytes) — pass as bytea. */
  tokenHash: Uint8Array;
}

function invalid(path: string, message: string): ApiError {
  return new ApiError("VALIDATION_FAILED", "Invalid job headers", {
    fields: [{ path: `headers.${path}`, message }],
  });
}

/** Parses X-Job-Id / X-Job-Token from raw headers; null when both are absent. */
export async function parseJobCredentials(headers: Headers): Promise<JobCredentials | null> {
  const id = headers.get(JOB_ID_HEADER);
  const token = headers.get(JOB_TOKEN_HEADER);
  if (id === null && token === null) return null;
  if (id === null) throw invalid("x-job-id", "Required with X-Job-Token");
  if (token === null) throw invalid("x-job-token", "Required with X-Job-Id");
  if (!isUuid(id)) throw invalid("x-job-id", "Must be a UUID");
  if (!isWellFormedJobToken(token)) {
    throw invalid("x-job-token", "Must be 43 base64url characters");
  }
  return { jobId: id.toLowerCase(), tokenHash: await hashJobToken(token) };
}

/** parseJobCredentials for the current request. */
export async function readJobCredentials(c: Context): Promise<JobCredentials | null> {
  return await parseJobCredentials(c.req.raw.headers);
}

/** Like readJobCredentials, but 400 when the headers are missing (routes that need a job). */
export async function requireJobCredentials(c: Context): Promise<JobCredentials> {
  const job = await readJobCredentials(c);
  if (!job) throw invalid("x-job-id", "X-Job-Id and X-Job-Token are required");
  return job;
}

/** Answers built from a composed api.jobs_* call: replay header and the SQL-built JSON body. */
import type { Context } from "hono";
import { IDEMPOTENT_REPLAYED_HEADER } from "../_shared/idempotency/key.ts";

/** One row of api.jobs_commit / jobs_cancel / jobs_extend. */
export interface ComposedRow {
  replayed: boolean;
  response_status: number;
  response: Record<string, unknown>;
}

export function respond(c: Context, row: ComposedRow): Response {
  if (row.replayed) c.header(IDEMPOTENT_REPLAYED_HEADER, "true");
  c.header("Cache-Control", "no-store");
  return c.json(row.response, row.response_status as 200 | 201);
}

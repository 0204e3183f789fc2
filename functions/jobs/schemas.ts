/** Request bodies of the jobs routes; bounds come from the configuration. */
import { z } from "zod";
import type { Config } from "../_shared/config.ts";
import { ApiError } from "../_shared/http/errors.ts";
import { isUuid } from "../_shared/jobs/headers.ts";

const amount = (max: number) =>
  z.number({ invalid_type_error: "Must be an integer" }).int("Must be an integer").min(1).max(max);

export function startBody(config: Config) {
  return z.object({
    amount: amount(config.MAX_JOB_AMOUNT),
    ttlSeconds: z.number().int("Must be an integer")
      .min(config.JOB_TTL_MIN_SECONDS).max(config.JOB_TTL_MAX_SECONDS).optional(),
  });
}

/** commit: `amount` = what was actually used, 0..hold (default: the whole hold). */
export function commitBody(config: Config) {
  return z.object({
    amount: z.number({ invalid_type_error: "Must be an integer" }).int("Must be an integer")
      .min(0).max(config.MAX_JOB_AMOUNT).optional(),
  });
}

/**
 * extend: add `amount` to the hold and/or `ttlSeconds` to the expiry; at least one. (.strict()
 * here: validate() only makes a bare top-level object strict, not one wrapped by refine.)
 */
export function extendBody(config: Config) {
  return z.object({
    amount: amount(config.MAX_JOB_AMOUNT).optional(),
    ttlSeconds: z.number().int("Must be an integer").min(1).max(config.JOB_TTL_MAX_SECONDS)
      .optional(),
  }).strict().refine((b) => b.amount !== undefined || b.ttlSeconds !== undefined, {
    message: "Give amount and/or ttlSeconds",
  });
}

export const cancelBody = z.object({});

/** The :id path parameter: a UUID (400 otherwise), lower-cased. */
export function jobIdParam(value: string): string {
  if (!isUuid(value)) {
    throw new ApiError("VALIDATION_FAILED", "Invalid request path parameters", {
      fields: [{ path: "id", message: "Must be a UUID" }],
    });
  }
  return value.toLowerCase();
}

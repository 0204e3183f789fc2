/**
 * The server secret behind deterministic job tokens (idempotent starts).
 *
 * JOB_TOKEN_SECRET when set; otherwise derived from IP_HASH_SECRET (always set; required in
 * production) with a fixed label, so HMAC keys for different purposes stay independent and the
 * IP hashes never reveal it. Rotating the secret only means that replays of starts made before
 * the rotation return a token that no longer matches (the client starts a new job).
 */
import type { Config } from "../config.ts";

export function jobTokenSecret(config: Pick<Config, "IP_HASH_SECRET" | "JOB_TOKEN_SECRET">): string {
  if (config.JOB_TOKEN_SECRET) return config.JOB_TOKEN_SECRET;
  return `tollgate/job-token-secret/v1:${config.IP_HASH_SECRET}`;
}

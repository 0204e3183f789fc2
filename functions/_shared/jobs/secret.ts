/**
 * The server secret behind deterministic job tokens (idempotent starts).
 *
 * There is no dedicated variable yet, so it is derived from IP_HASH_SECRET (always set; required
 * in production) with a fixed label: HMAC keys for different purposes stay independent, and the
 * IP hashes never reveal it. Rotating IP_HASH_SECRET only means that replays of starts made
 * before the rotation return a token that no longer matches (the client starts a new job).
 */
import type { Config } from "../config.ts";

export function jobTokenSecret(config: Pick<Config, "IP_HASH_SECRET">): string {
  return `tollgate/job-token-secret/v1:${config.IP_HASH_SECRET}`;
}

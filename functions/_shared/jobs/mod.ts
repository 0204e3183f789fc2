/**
 * Job tokens and the X-Job-Id / X-Job-Token headers (issue 4), shared by `jobs` and `ai`.
 *
 *   generateJobToken()                    → { token, hash }  random 32 bytes (base64url) + SHA-256
 *   deriveJobToken(secret, account, key)  → { token, hash }  deterministic, for idempotent starts
 *   hashJobToken(token)                   → SHA-256 bytes as stored in credits.jobs.token_hash
 *   readJobCredentials(c)                 → { jobId, tokenHash } | null   (400 when malformed)
 *   requireJobCredentials(c)              → { jobId, tokenHash }          (400 when missing)
 *   jobTokenSecret(config)                → the HMAC secret deriveJobToken uses
 */
export {
  deriveJobToken,
  fromBase64Url,
  generateJobToken,
  hashJobToken,
  isWellFormedJobToken,
  JOB_TOKEN_BYTES,
  JOB_TOKEN_PATTERN,
  type JobToken,
  toBase64Url,
} from "./token.ts";
export {
  isUuid,
  JOB_ID_HEADER,
  JOB_TOKEN_HEADER,
  type JobCredentials,
  parseJobCredentials,
  readJobCredentials,
  requireJobCredentials,
} from "./headers.ts";
export { jobTokenSecret } from "./secret.ts";

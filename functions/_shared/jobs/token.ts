/**
 * Job tokens: 32 bytes, base64url without padding (43 characters). Only the SHA-256 of the 32
 * bytes is stored (credits.jobs.token_hash); the database compares digests, never the token.
 *
 * A start without Idempotency-Key gets 32 random bytes. A start WITH a key gets
 * HMAC-SHA256(secret, "tollgate/job-token/v1" | account | key): 32 pseudo-random bytes nobody
 * can predict without the server secret, which lets a replay of the same start return the same
 * token although the token itself is never stored anywhere.
 */
import { hmacSha256Key } from "../crypto/hmac_key.ts";

export const JOB_TOKEN_BYTES = 32;
/** 32 bytes in base64url without padding. */
export const JOB_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

const encoder = new TextEncoder();

export function toBase64Url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64Url(value: string): Uint8Array<ArrayBuffer> {
  const b64 = value.replace(/-/g, "+").replace(/_/g, "/");
  const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (ch) => ch.charCodeAt(0));
}

export function isWellFormedJobToken(token: string): boolean {
  return JOB_TOKEN_PATTERN.test(token);
}

/** SHA-256 of the token's 32 bytes: what credits.jobs.token_hash holds. Throws if malformed. */
export async function hashJobToken(token: string): Promise<Uint8Array> {
  if (!isWellFormedJobToken(token)) throw new Error("malformed job token");
  const bytes = fromBase64Url(token);
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

export interface JobToken {
  /** Give to the client once; never log or store it. */
  token: string;
  /** SHA-256 of the token bytes; pass to api.jobs_start / api.authorize_job. */
  hash: Uint8Array;
}

async function fromBytes(bytes: Uint8Array<ArrayBuffer>): Promise<JobToken> {
  const token = toBase64Url(bytes);
  return { token, hash: new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)) };
}

/** A fresh random job token (starts without Idempotency-Key). */
export async function generateJobToken(): Promise<JobToken> {
  return await fromBytes(crypto.getRandomValues(new Uint8Array(JOB_TOKEN_BYTES)));
}

/**
 * The job token of an idempotent start: the same (secret, account, idempotency key) always
 * gives the same token, so a replayed start can return it. Length-prefixed parts keep the
 * input unambiguous.
 */
export async function deriveJobToken(
  secret: string,
  account: string,
  idempotencyKey: string,
): Promise<JobToken> {
  if (secret.length === 0) throw new Error("job token secret must not be empty");
  const parts = ["tollgate/job-token/v1", account, idempotencyKey];
  const input = encoder.encode(parts.map((p) => `${encoder.encode(p).length}:${p}`).join("|"));
  const mac = await crypto.subtle.sign("HMAC", await hmacSha256Key(secret), input);
  return await fromBytes(new Uint8Array(mac));
}

/**
 * X-Admin-Secret checking in constant time.
 *
 * Both sides are hashed with SHA-256 first, so the comparison always runs over 32 bytes
 * whatever the lengths, and the XOR-accumulate loop never exits early: the time taken says
 * nothing about how much of a guess was right, nor how long the secret is. The presented value
 * is compared with ADMIN_SECRET and ADMIN_SECRET_NEXT every time (no short-circuit), so timing
 * does not reveal which one matched either.
 */
import type { AdminSecretUsed } from "./deps.ts";

const encoder = new TextEncoder();

async function sha256(value: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(value)));
}

/** Equal-length byte arrays compared without an early exit. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export interface AdminSecrets {
  current?: string;
  next?: string;
}

/** Which configured secret `presented` equals, or null. Unset secrets never match. */
export async function matchAdminSecret(
  presented: string | null | undefined,
  secrets: AdminSecrets,
): Promise<AdminSecretUsed | null> {
  if (!presented) return null;
  const p = await sha256(presented);
  // Unset secrets are compared against a digest nothing hashes to, to keep the work the same.
  const none = new Uint8Array(32).fill(0xff);
  const current = timingSafeEqual(p, secrets.current ? await sha256(secrets.current) : none);
  const next = timingSafeEqual(p, secrets.next ? await sha256(secrets.next) : none);
  if (current && secrets.current) return "current";
  if (next && secrets.next) return "next";
  return null;
}

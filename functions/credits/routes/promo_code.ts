/**
 * Promo codes as the database sees them: only a SHA-256, never the code.
 *
 *   codeHash(code) = SHA-256("tollgate-promo-v1:" + normalizePromoCode(code))   (32 bytes)
 *
 * Normalisation makes codes case-insensitive and forgiving of surrounding spaces (people type
 * them from a review note). The same function hashes REVIEW_CODE, admin-created codes and every
 * redemption attempt, so they always agree. Used by POST /credits/redeem and by the admin
 * function (POST /admin/promo-campaigns).
 */

export const PROMO_HASH_PREFIX = "tollgate-promo-v1:";
/** Codes an admin may create: 6..64 of A-Z 0-9 - _ (after normalisation). */
export const CREATABLE_PROMO_CODE = /^[A-Z0-9_-]{6,64}$/;
/** Longest input a redemption attempt may send. */
export const MAX_PROMO_CODE_INPUT = 128;

export function normalizePromoCode(code: string): string {
  return code.trim().toUpperCase();
}

export async function promoCodeHash(code: string): Promise<Uint8Array> {
  const bytes = new TextEncoder().encode(PROMO_HASH_PREFIX + normalizePromoCode(code));
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

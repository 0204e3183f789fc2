/**
 * A short-lived cache of verified user tokens for the ai function's hot path. An app sends the
 * same JWT with every AI call for up to an hour, and an ES256 signature check costs far more CPU
 * than the rest of the request's own work; a token verified in the last minute is accepted again
 * without re-checking the signature. Bounded in size and age:
 *   - an entry lives at most `maxAgeMs` (default 60 s) and never past the token's `exp`;
 *   - only successful verifications are cached (a bad token is checked — and refused — each time);
 *   - at most `maxEntries` tokens (default 2000), the least recently used evicted first.
 * A key removed from the JWKS therefore stops being accepted within `maxAgeMs`.
 */
import type { VerifiedUser, Verifier } from "../_shared/auth/verifier.ts";

export interface TokenCacheOptions {
  maxEntries?: number;
  maxAgeMs?: number;
  now?: () => number;
}

interface Entry {
  user: VerifiedUser;
  until: number;
}

export function cachingVerifier(inner: Verifier, options: TokenCacheOptions = {}): Verifier {
  const maxEntries = options.maxEntries ?? 2000;
  const maxAgeMs = options.maxAgeMs ?? 60_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();

  return {
    async verify(token: string): Promise<VerifiedUser> {
      const t = now();
      const hit = entries.get(token);
      if (hit) {
        entries.delete(token);
        if (t < hit.until) {
          entries.set(token, hit); // most recently used last
          return hit.user;
        }
      }
      const user = await inner.verify(token);
      const exp = typeof user.claims.exp === "number" ? user.claims.exp * 1000 : t;
      const until = Math.min(t + maxAgeMs, exp);
      if (until > t) {
        entries.set(token, { user, until });
        if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
      }
      return user;
    },
  };
}

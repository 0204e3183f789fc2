/**
 * HMAC-SHA-256 signing keys, imported once per secret: importKey is async and costs more than
 * the signature, and the hot paths (job tokens, client IP hashes) sign on every request.
 */

const keyCache = new Map<string, Promise<CryptoKey>>();

/** The HMAC-SHA-256 signing key of `secret` (cached per isolate). */
export function hmacSha256Key(secret: string): Promise<CryptoKey> {
  let key = keyCache.get(secret);
  if (!key) {
    key = crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    keyCache.set(secret, key);
  }
  return key;
}

/**
 * App Store Server API authentication: an ES256 JWT signed with the in-app purchase key from
 * App Store Connect (APPSTORE_PRIVATE_KEY, a .p8 PKCS#8 PEM), as Apple specifies:
 *   header  {alg: "ES256", kid: APPSTORE_KEY_ID, typ: "JWT"}
 *   claims  {iss: APPSTORE_ISSUER_ID, iat, exp (≤ 60 min after iat; we use 5), aud:
 *            "appstoreconnect-v1", bid: <bundle id>}
 * Apple requires `bid`; there is no bundle-id variable yet, so diagnostics take it as a query
 * parameter. The key ID and issuer ID are identifiers, not secrets; the key never leaves here.
 */
import { importPKCS8, SignJWT } from "jose";
import type { Config } from "../../_shared/config.ts";

export const APPSTORE_AUDIENCE = "appstoreconnect-v1";
export const APPSTORE_TOKEN_TTL_SECONDS = 300;

export interface AppStoreCredentials {
  issuerId: string;
  keyId: string;
  privateKey: string;
}

/** The configured credentials, or the names of the missing variables. */
export function appStoreCredentials(
  config: Config,
): { credentials: AppStoreCredentials | null; missing: string[] } {
  const missing = (["APPSTORE_ISSUER_ID", "APPSTORE_KEY_ID", "APPSTORE_PRIVATE_KEY"] as const)
    .filter((name) => !config[name]);
  if (missing.length > 0) return { credentials: null, missing };
  return {
    credentials: {
      issuerId: config.APPSTORE_ISSUER_ID!,
      keyId: config.APPSTORE_KEY_ID!,
      privateKey: config.APPSTORE_PRIVATE_KEY!,
    },
    missing,
  };
}

/**
 * The key as PEM: secrets stores often hold the .p8 with literal "\n" sequences, or only its
 * base64 body; both are accepted.
 */
export function normalizePem(value: string): string {
  const text = value.replace(/\\n/g, "\n").trim();
  if (text.includes("-----BEGIN")) return text;
  const body = text.replace(/\s+/g, "");
  const lines = body.match(/.{1,64}/g) ?? [];
  return `-----BEGIN PRIVATE KEY-----\n${lines.join("\n")}\n-----END PRIVATE KEY-----`;
}

const keys = new Map<string, Promise<CryptoKey>>();

/** Imports (once per isolate) the ES256 signing key; rejects for anything but a P-256 PKCS#8 key. */
export function appStoreSigningKey(privateKey: string): Promise<CryptoKey> {
  let key = keys.get(privateKey);
  if (!key) {
    key = importPKCS8(normalizePem(privateKey), "ES256") as Promise<CryptoKey>;
    key.catch(() => keys.delete(privateKey));
    keys.set(privateKey, key);
  }
  return key;
}

/** Whether the private key parses as an ES256 (P-256) key. Never says why not (no key bytes). */
export async function isUsableAppStoreKey(privateKey: string): Promise<boolean> {
  try {
    await appStoreSigningKey(privateKey);
    return true;
  } catch {
    return false;
  }
}

export interface AppStoreJwtHeader {
  alg: "ES256";
  kid: string;
  typ: "JWT";
}

export interface AppStoreJwtClaims {
  iss: string;
  iat: number;
  exp: number;
  aud: typeof APPSTORE_AUDIENCE;
  bid?: string;
}

export interface MintedAppStoreJwt {
  token: string;
  header: AppStoreJwtHeader;
  claims: AppStoreJwtClaims;
}

export async function mintAppStoreJwt(
  credentials: AppStoreCredentials,
  options: { bundleId?: string; nowSeconds?: number; ttlSeconds?: number } = {},
): Promise<MintedAppStoreJwt> {
  const iat = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const ttl = Math.min(options.ttlSeconds ?? APPSTORE_TOKEN_TTL_SECONDS, 3600);
  const header: AppStoreJwtHeader = { alg: "ES256", kid: credentials.keyId, typ: "JWT" };
  const claims: AppStoreJwtClaims = {
    iss: credentials.issuerId,
    iat,
    exp: iat + ttl,
    aud: APPSTORE_AUDIENCE,
    ...(options.bundleId ? { bid: options.bundleId } : {}),
  };
  const token = await new SignJWT({ ...claims })
    .setProtectedHeader({ ...header })
    .sign(await appStoreSigningKey(credentials.privateKey));
  return { token, header, claims };
}

/**
 * Local auth keys, mirroring a Supabase project: an ES256 signing key (served as a JWKS by
 * the local gateway) generated once and kept in the gitignored local folder, and the legacy
 * HS256 secret. Tokens minted here look like the ones Supabase Auth issues.
 */
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";
import { LOCAL_DIR } from "./paths.ts";
import { join } from "./path.ts";

import { DEV_JWT_SECRET } from "../../functions/_shared/config.ts";

export { DEV_JWT_SECRET };

const KEY_FILE = join(LOCAL_DIR, "jwt-es256.json");

export interface SigningKey {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

/** Loads the local ES256 key, creating it on first use. */
export async function loadSigningKey(): Promise<SigningKey> {
  try {
    return JSON.parse(await Deno.readTextFile(KEY_FILE)) as SigningKey;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const kid = crypto.randomUUID();
  const key: SigningKey = {
    kid,
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: "ES256", use: "sig" },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" },
  };
  await Deno.mkdir(LOCAL_DIR, { recursive: true });
  await Deno.writeTextFile(KEY_FILE, JSON.stringify(key, null, 2), { mode: 0o600 });
  return key;
}

export function jwks(key: SigningKey): { keys: JWK[] } {
  return { keys: [key.publicJwk] };
}

export interface TokenOptions {
  /** Issuer base: the project URL (`iss` becomes `<supabaseUrl>/auth/v1`). */
  supabaseUrl: string;
  sub?: string;
  anonymous?: boolean;
  /** Lifetime in seconds (default one hour, like Supabase). */
  ttlSeconds?: number;
  /** "ES256" (JWKS, default) or "HS256" (legacy secret). */
  alg?: "ES256" | "HS256";
  hsSecret?: string;
  extraClaims?: Record<string, unknown>;
}

/** Mints a user access token as Supabase Auth would. */
export async function mintUserToken(opts: TokenOptions): Promise<string> {
  const sub = opts.sub ?? crypto.randomUUID();
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({
    role: "authenticated",
    aal: "aal1",
    session_id: crypto.randomUUID(),
    is_anonymous: opts.anonymous ?? false,
    ...opts.extraClaims,
  })
    .setSubject(sub)
    .setAudience("authenticated")
    .setIssuer(`${opts.supabaseUrl}/auth/v1`)
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.ttlSeconds ?? 3600));

  if (opts.alg === "HS256") {
    const secret = new TextEncoder().encode(opts.hsSecret ?? DEV_JWT_SECRET);
    return await jwt.setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(secret);
  }
  const key = await loadSigningKey();
  const privateKey = await importJWK(key.privateJwk, "ES256");
  return await jwt.setProtectedHeader({ alg: "ES256", typ: "JWT", kid: key.kid }).sign(privateKey);
}

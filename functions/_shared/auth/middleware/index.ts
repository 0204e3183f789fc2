/**
 * `auth()`: requires a Supabase user token (`Authorization: Bearer <jwt>`) and identifies the
 * caller. Sets:
 *   c.var.account     the user id (JWT `sub`, a UUID, lower-case)
 *   c.var.claims      the verified claims
 *   c.var.isAnonymous true for Supabase anonymous sign-ins
 *   c.var.deviceId    the optional `X-Device-Id` (1..128 of [A-Za-z0-9._:-]) or null
 * Failures: 401 UNAUTHORIZED with `details.reason` (+ WWW-Authenticate); a malformed
 * X-Device-Id is 400 VALIDATION_FAILED.
 */
import type { MiddlewareHandler } from "hono";
import { type Config, getConfig } from "../../config.ts";
import { ApiError } from "../../http/errors.ts";
import type { BaseVariables } from "../../http/types.ts";
import { authError, createVerifier, type UserClaims, type Verifier } from "../verifier.ts";

export const DEVICE_ID_HEADER = "X-Device-Id";
export const WELL_FORMED_DEVICE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface AuthVariables {
  account: string;
  claims: UserClaims;
  isAnonymous: boolean;
  deviceId: string | null;
}

export type AuthEnv = { Variables: BaseVariables & AuthVariables };

export interface AuthOptions {
  /** Verifier to use (default: built once per config from SUPABASE_URL, secrets and JWKS URL). */
  verifier?: Verifier;
}

const verifiers = new WeakMap<Config, Verifier>();

/** The verifier for a configuration (cached: the JWKS cache lives as long as the isolate). */
export function verifierFor(config: Config): Verifier {
  let v = verifiers.get(config);
  if (!v) {
    v = createVerifier({
      supabaseUrl: config.SUPABASE_URL,
      secrets: [config.SUPABASE_JWT_SECRET, config.JWT_SECRET_NEXT],
      jwksUrl: config.SUPABASE_JWKS_URL,
    });
    verifiers.set(config, v);
  }
  return v;
}

/** The raw token from `Authorization: Bearer <token>`, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return m ? m[1] : null;
}

export function auth(options: AuthOptions = {}): MiddlewareHandler<AuthEnv> {
  return async function authMiddleware(c, next) {
    const header = c.req.header("Authorization");
    const token = bearerToken(header);
    if (!token) throw authError(header ? "malformed" : "missing_token");
    const verifier = options.verifier ?? verifierFor(c.get("config") ?? getConfig());
    const user = await verifier.verify(token);

    const device = c.req.header(DEVICE_ID_HEADER);
    if (device !== undefined && !WELL_FORMED_DEVICE_ID.test(device)) {
      throw new ApiError("VALIDATION_FAILED", "Invalid X-Device-Id", {
        fields: [{
          path: "headers.x-device-id",
          message: "1 to 128 characters of A-Z a-z 0-9 . _ : -",
        }],
      });
    }
    c.set("account", user.account);
    c.set("claims", user.claims);
    c.set("isAnonymous", user.isAnonymous);
    c.set("deviceId", device ?? null);
    await next();
  };
}

/**
 * Supabase user-JWT verification with jose (ARCHITECTURE §1, §5).
 *
 * The verification path is chosen by the token header's `alg`, each path with its own
 * allow-list, so a token can never pick how it is checked:
 *   HS256          → the shared secrets (SUPABASE_JWT_SECRET, then JWT_SECRET_NEXT for rotation)
 *   ES256 / RS256  → the project's JWKS (createRemoteJWKSet: cached, refetched on unknown kid)
 *   anything else  → unsupported_algorithm (`none`, HS512, "HS256 signed with the public key"
 *                    fails as bad_signature because only the secrets are HS keys)
 * Then: aud = "authenticated", iss = `${SUPABASE_URL}/auth/v1`, exp required, exp/nbf with
 * clock tolerance, `sub` a UUID, and `role = service_role` refused (a service key is not a user).
 * Failures are ApiError UNAUTHORIZED with `details.reason`; the token itself is never included.
 */
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  type JWTPayload,
  jwtVerify,
  type JWTVerifyGetKey,
} from "jose";
import { ApiError } from "../http/errors.ts";

export type AuthFailureReason =
  | "missing_token"
  | "malformed"
  | "unsupported_algorithm"
  | "bad_signature"
  | "unknown_key"
  | "token_expired"
  | "token_not_yet_valid"
  | "bad_audience"
  | "bad_issuer"
  | "missing_exp"
  | "missing_sub"
  | "invalid_sub"
  | "service_role_not_allowed";

const MESSAGES: Record<AuthFailureReason, string> = {
  missing_token: "A bearer token is required",
  malformed: "The token is malformed",
  unsupported_algorithm: "The token's algorithm is not accepted",
  bad_signature: "The token's signature is invalid",
  unknown_key: "The token was signed with an unknown key",
  token_expired: "The token has expired",
  token_not_yet_valid: "The token is not valid yet",
  bad_audience: "The token's audience is not accepted",
  bad_issuer: "The token's issuer is not accepted",
  missing_exp: "The token has no expiry",
  missing_sub: "The token has no subject",
  invalid_sub: "The token's subject is not a user id",
  service_role_not_allowed: "Service-role tokens are not user tokens",
};

export function authError(reason: AuthFailureReason): ApiError {
  return new ApiError("UNAUTHORIZED", MESSAGES[reason], { reason });
}

/** Claims of a verified Supabase user token. */
export interface UserClaims extends JWTPayload {
  sub: string;
  role?: string;
  is_anonymous?: boolean;
  session_id?: string;
  aal?: string;
}

export interface VerifiedUser {
  /** The account id: the token's `sub`. */
  account: string;
  claims: UserClaims;
  isAnonymous: boolean;
}

export interface Verifier {
  /** Verifies a raw JWT (no "Bearer " prefix). Throws ApiError UNAUTHORIZED (or 503 if the JWKS is unreachable). */
  verify(token: string): Promise<VerifiedUser>;
}

export interface VerifierOptions {
  /** Project URL; the issuer is `${supabaseUrl}/auth/v1`. */
  supabaseUrl: string;
  /** HS256 secrets, current first then next (rotation). Empty → HS256 not accepted. */
  secrets?: readonly (string | undefined)[];
  /** JWKS endpoint for ES256/RS256; null/undefined → asymmetric tokens not accepted. */
  jwksUrl?: string | URL | null;
  /** Seconds of clock skew allowed for exp/nbf (default 10, at most 30). */
  clockToleranceSeconds?: number;
  /** Expected audience (default "authenticated"). */
  audience?: string;
  /** JWKS refetch cooldown on an unknown kid, ms (jose default 30 000; tests lower it). */
  jwksCooldownMs?: number;
  /** JWKS cache lifetime, ms (default 10 minutes). */
  jwksCacheMaxAgeMs?: number;
  /** JWKS fetch timeout, ms (default 5 000). */
  jwksTimeoutMs?: number;
}

const HS_ALGORITHMS = ["HS256"];
const JWKS_ALGORITHMS = ["ES256", "RS256"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function createVerifier(options: VerifierOptions): Verifier {
  const issuer = `${options.supabaseUrl.replace(/\/+$/, "")}/auth/v1`;
  const audience = options.audience ?? "authenticated";
  const clockTolerance = Math.min(options.clockToleranceSeconds ?? 10, 30);
  const secrets = (options.secrets ?? [])
    .filter((s): s is string => typeof s === "string" && s.length > 0)
    .map((s) => new TextEncoder().encode(s));
  const jwks: JWTVerifyGetKey | null = options.jwksUrl
    ? createRemoteJWKSet(new URL(options.jwksUrl), {
      cooldownDuration: options.jwksCooldownMs ?? 30_000,
      cacheMaxAge: options.jwksCacheMaxAgeMs ?? 600_000,
      timeoutDuration: options.jwksTimeoutMs ?? 5_000,
    })
    : null;
  const common = { issuer, audience, clockTolerance, requiredClaims: ["exp"] };

  async function verifyWithSecrets(token: string): Promise<JWTPayload> {
    let lastError: unknown = authError("unsupported_algorithm");
    for (const secret of secrets) {
      try {
        return (await jwtVerify(token, secret, { ...common, algorithms: HS_ALGORITHMS })).payload;
      } catch (err) {
        lastError = err;
        // Only a signature mismatch means "try the next secret"; a claim failure means the
        // signature was good and the answer is final.
        if (!(err instanceof joseErrors.JWSSignatureVerificationFailed)) break;
      }
    }
    throw lastError;
  }

  async function verifyWithJwks(token: string): Promise<JWTPayload> {
    if (!jwks) throw authError("unsupported_algorithm");
    return (await jwtVerify(token, jwks, { ...common, algorithms: JWKS_ALGORITHMS })).payload;
  }

  return {
    async verify(token: string): Promise<VerifiedUser> {
      if (!token) throw authError("missing_token");
      if (token.length > 16_384 || !JWS_COMPACT.test(token)) throw authError("malformed");
      let alg: string | undefined;
      try {
        alg = decodeProtectedHeader(token).alg;
      } catch {
        throw authError("malformed");
      }
      let payload: JWTPayload;
      try {
        if (alg && HS_ALGORITHMS.includes(alg)) {
          if (secrets.length === 0) throw authError("unsupported_algorithm");
          payload = await verifyWithSecrets(token);
        } else if (alg && JWKS_ALGORITHMS.includes(alg)) {
          payload = await verifyWithJwks(token);
        } else {
          throw authError("unsupported_algorithm");
        }
      } catch (err) {
        throw mapJoseError(err);
      }
      return toUser(payload);
    },
  };
}

function toUser(payload: JWTPayload): VerifiedUser {
  if (payload.role === "service_role") throw authError("service_role_not_allowed");
  if (payload.sub === undefined || payload.sub === "") throw authError("missing_sub");
  if (typeof payload.sub !== "string" || !UUID.test(payload.sub)) throw authError("invalid_sub");
  const claims = payload as UserClaims;
  return {
    account: claims.sub.toLowerCase(),
    claims,
    isAnonymous: claims.is_anonymous === true,
  };
}

/** jose error → our reason. A claim failure carries the (signature-verified) payload. */
function mapJoseError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof joseErrors.JWTClaimValidationFailed || err instanceof joseErrors.JWTExpired) {
    if (err.payload?.role === "service_role") return authError("service_role_not_allowed");
    if (err instanceof joseErrors.JWTExpired) return authError("token_expired");
    if (err.claim === "exp") {
      return authError(err.reason === "missing" ? "missing_exp" : "token_expired");
    }
    if (err.claim === "nbf") return authError("token_not_yet_valid");
    if (err.claim === "aud") return authError("bad_audience");
    if (err.claim === "iss") return authError("bad_issuer");
    return authError("malformed");
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return authError("bad_signature");
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return authError("unsupported_algorithm");
  if (err instanceof joseErrors.JWKSNoMatchingKey) return authError("unknown_key");
  if (err instanceof joseErrors.JWKSMultipleMatchingKeys) return authError("unknown_key");
  if (
    err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid ||
    err instanceof TypeError
  ) {
    // Our key endpoint is down: not the caller's fault, so not a 401.
    return new ApiError("SERVICE_UNAVAILABLE", "Token keys are unavailable", undefined, {
      cause: err,
    });
  }
  if (err instanceof joseErrors.JOSEError) return authError("malformed");
  return new ApiError("INTERNAL", "Internal error", undefined, { cause: err });
}

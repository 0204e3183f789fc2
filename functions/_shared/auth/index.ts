export {
  auth,
  type AuthEnv,
  type AuthOptions,
  type AuthVariables,
  bearerToken,
  DEVICE_ID_HEADER,
  verifierFor,
} from "./middleware/index.ts";
export {
  authError,
  type AuthFailureReason,
  createVerifier,
  type UserClaims,
  type VerifiedUser,
  type Verifier,
  type VerifierOptions,
} from "./verifier.ts";

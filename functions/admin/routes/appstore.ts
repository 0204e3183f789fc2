/**
 * App Store Server API diagnostics:
 *   GET /admin/diag/appstore                  what is configured (booleans, ID previews, whether
 *                                             the key parses as ES256), base URL, readiness
 *   GET /admin/diag/appstore/jwt?bundleId=    mints the ES256 JWT and shows its header and claims
 *                                             (never the token, its signature or the key)
 *   GET /admin/diag/appstore/ping?bundleId=&transactionId=
 *                                             calls Apple's API with it (APPSTORE_API_BASE_URL;
 *                                             tests point it at tests/fakes/appstore.ts)
 * Missing credentials → 422 UNPROCESSABLE with details.missing = [variable names].
 */
import { z } from "zod";
import { ApiError } from "../../_shared/http/errors.ts";
import { validate } from "../../_shared/http/validate/index.ts";
import { pingAppStore } from "../appstore/client.ts";
import {
  APPSTORE_TOKEN_TTL_SECONDS,
  type AppStoreCredentials,
  appStoreCredentials,
  isUsableAppStoreKey,
  mintAppStoreJwt,
} from "../appstore/jwt.ts";
import type { AdminDeps, AdminRoutes } from "../deps.ts";
import { originOf, preview } from "./diag.ts";

const BUNDLE_ID = z.string().regex(/^[A-Za-z0-9.-]{1,155}$/, "a bundle id such as com.example.app");
const JwtQuery = z.object({ bundleId: BUNDLE_ID.optional() });
const PingQuery = z.object({
  bundleId: BUNDLE_ID.optional(),
  transactionId: z.string().regex(/^[0-9]{1,20}$/, "digits only").optional(),
});

function requireCredentials(deps: AdminDeps): AppStoreCredentials {
  const { credentials, missing } = appStoreCredentials(deps.config);
  if (!credentials) {
    throw new ApiError("UNPROCESSABLE", "App Store Server API credentials are not configured", {
      missing,
    });
  }
  return credentials;
}

function environmentOf(baseUrl: string): "production" | "sandbox" | "custom" {
  const host = originOf(baseUrl) ?? "";
  if (host === "https://api.storekit.itunes.apple.com") return "production";
  if (host === "https://api.storekit-sandbox.itunes.apple.com") return "sandbox";
  return "custom";
}

export const appStoreRoutes: AdminRoutes = (app, deps) => {
  const { config } = deps;

  app.get("/diag/appstore", async (c) => {
    c.set("adminAction", "diag.appstore");
    const { missing } = appStoreCredentials(config);
    const keyUsable = config.APPSTORE_PRIVATE_KEY
      ? await isUsableAppStoreKey(config.APPSTORE_PRIVATE_KEY)
      : false;
    return c.json({
      ready: missing.length === 0 && keyUsable,
      missing,
      issuerId: {
        set: !!config.APPSTORE_ISSUER_ID,
        preview: preview(config.APPSTORE_ISSUER_ID, 4),
      },
      keyId: { set: !!config.APPSTORE_KEY_ID, preview: preview(config.APPSTORE_KEY_ID) },
      privateKey: { set: !!config.APPSTORE_PRIVATE_KEY, usableForES256: keyUsable },
      baseUrl: originOf(config.APPSTORE_API_BASE_URL),
      environment: environmentOf(config.APPSTORE_API_BASE_URL),
      bundleId: "not configured: pass ?bundleId= to /diag/appstore/jwt and /diag/appstore/ping",
    });
  });

  app.get("/diag/appstore/jwt", validate("query", JwtQuery), async (c) => {
    c.set("adminAction", "diag.appstore.jwt");
    const { bundleId } = c.req.valid("query");
    const minted = await mint(requireCredentials(deps), bundleId);
    return c.json({
      header: minted.header,
      claims: minted.claims,
      expiresInSeconds: APPSTORE_TOKEN_TTL_SECONDS,
      signature: "withheld",
      ...(bundleId ? {} : { warning: "Apple requires the bid (bundle id) claim: pass ?bundleId=" }),
    });
  });

  app.get("/diag/appstore/ping", validate("query", PingQuery), async (c) => {
    c.set("adminAction", "diag.appstore.ping");
    const { bundleId, transactionId } = c.req.valid("query");
    const minted = await mint(requireCredentials(deps), bundleId);
    const result = await pingAppStore({
      baseUrl: config.APPSTORE_API_BASE_URL,
      token: minted.token,
      transactionId: transactionId ?? "0",
      fetch: deps.fetch,
    });
    c.set("adminAudit", { status: result.status, authenticated: result.authenticated });
    return c.json({
      baseUrl: originOf(config.APPSTORE_API_BASE_URL),
      environment: environmentOf(config.APPSTORE_API_BASE_URL),
      request: `GET /inApps/v1/transactions/${transactionId ?? "0"}`,
      ...result,
    });
  });
};

async function mint(credentials: AppStoreCredentials, bundleId: string | undefined) {
  try {
    return await mintAppStoreJwt(credentials, { bundleId });
  } catch (err) {
    // A key that does not import: say so without any detail of the key.
    throw new ApiError(
      "UNPROCESSABLE",
      "APPSTORE_PRIVATE_KEY is not a PKCS#8 P-256 (ES256) key",
      { missing: [] },
      { cause: err instanceof Error ? new Error(err.name) : undefined },
    );
  }
}

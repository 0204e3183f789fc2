/**
 * credits: the caller's balance and ledger (issue 4).
 *   GET /credits/balance            routes/balance.ts
 *   GET /credits/ledger             routes/ledger.ts
 *   POST /credits/redeem            routes/redeem.ts (promo codes, issue 6)
 * Route modules are listed in CREDITS_ROUTES; each registers on the authenticated app, so a new
 * one (e.g. POST /credits/redeem) is one import and one array entry.
 */
import type { Hono } from "hono";
import { auth, type AuthEnv } from "../_shared/auth/middleware/index.ts";
import { type Config, getConfig } from "../_shared/config.ts";
import { getSql, type Sql } from "../_shared/db/client.ts";
import { createBaseApp } from "../_shared/http/app.ts";
import type { AppEnv } from "../_shared/http/types.ts";
import type { Logger } from "../_shared/log/logger.ts";
import type { CreditsDeps, CreditsRoutes } from "./deps.ts";
import { balanceRoutes } from "./routes/balance.ts";
import { ledgerRoutes } from "./routes/ledger.ts";
import { redeemRoutes } from "./routes/redeem.ts";
import { authFailureGuard } from "../_shared/ratelimit/unauthenticated.ts";

/** Every route module of the function, in registration order. */
export const CREDITS_ROUTES: readonly CreditsRoutes[] = [balanceRoutes, ledgerRoutes, redeemRoutes];

export interface CreditsAppOptions {
  config?: Config;
  logger?: Logger;
  /** Database client (default: the isolate's shared getSql()). */
  sql?: Sql;
  /** Route modules (default CREDITS_ROUTES). */
  routes?: readonly CreditsRoutes[];
}

export function createApp(options: CreditsAppOptions = {}): Hono<AppEnv> {
  const config = options.config ?? getConfig();
  const app = createBaseApp("credits", { config, logger: options.logger });
  const deps: CreditsDeps = { config, sql: () => options.sql ?? getSql(config) };
  const authed = app as unknown as Hono<AuthEnv>;
  // 401s pay for the per-IP "unauthenticated" limit and are audited; successes cost nothing.
  app.use("*", authFailureGuard({ sql: deps.sql }));
  authed.use("*", auth());
  for (const register of options.routes ?? CREDITS_ROUTES) register(authed, deps);
  return app;
}

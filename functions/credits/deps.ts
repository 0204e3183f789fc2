/** What every credits route module receives. */
import type { Hono } from "hono";
import type { AuthEnv } from "../_shared/auth/middleware/index.ts";
import type { Config } from "../_shared/config.ts";
import type { Sql } from "../_shared/db/client.ts";

export interface CreditsDeps {
  config: Config;
  /** The database client (resolved per request so tests can inject one). */
  sql: () => Sql;
}

/**
 * A route module: registers its routes on the authenticated `/credits` app. Add a module by
 * appending it to CREDITS_ROUTES in app.ts (e.g. routes/redeem.ts for POST /credits/redeem).
 */
export type CreditsRoutes = (app: Hono<AuthEnv>, deps: CreditsDeps) => void;

/**
 * admin: operator API, guarded by X-Admin-Secret (issue 6).
 *   GET  /admin/diag                      diag.ts
 *   GET  /admin/diag/appstore[/jwt|/ping] appstore.ts
 *   POST /admin/grants                    grants.ts
 *   GET|PUT /admin/flags                  flags.ts
 *   GET|PUT /admin/prices                 prices.ts
 *   GET|POST /admin/promo-campaigns       promo_campaigns.ts
 *   GET  /admin/accounts/:id              accounts.ts
 *   POST /admin/alerts/dispatch           alerts.ts (operations: alert outbox delivery)
 * Every request: adminGuard (ADMIN_DISABLED / per-IP rate limit / constant-time secret check,
 * 401s audited as security events) then adminAudit (each action audited after the response with
 * the request id and which secret was used). Route modules are listed in ADMIN_ROUTES; another
 * one (e.g. POST /admin/alerts/dispatch) is one import and one array entry.
 */
import type { Hono } from "hono";
import { type AuditWriter, createAuditWriter } from "../_shared/audit/writer.ts";
import { type Config, getConfig } from "../_shared/config.ts";
import { getSql, type Sql } from "../_shared/db/client.ts";
import { createBaseApp } from "../_shared/http/app.ts";
import type { AppEnv } from "../_shared/http/types.ts";
import { createLogger, type Logger } from "../_shared/log/logger.ts";
import type { AdminDeps, AdminEnv, AdminRoutes } from "./deps.ts";
import { adminAudit } from "./middleware/admin-audit/index.ts";
import { adminGuard } from "./middleware/admin-guard/index.ts";
import { accountRoutes } from "./routes/accounts.ts";
import { alertRoutes } from "./routes/alerts.ts";
import { appStoreRoutes } from "./routes/appstore.ts";
import { diagRoutes } from "./routes/diag.ts";
import { flagRoutes } from "./routes/flags.ts";
import { grantRoutes } from "./routes/grants.ts";
import { priceRoutes } from "./routes/prices.ts";
import { promoCampaignRoutes } from "./routes/promo_campaigns.ts";

/** Every route module of the function, in registration order. */
export const ADMIN_ROUTES: readonly AdminRoutes[] = [
  diagRoutes,
  appStoreRoutes,
  grantRoutes,
  flagRoutes,
  priceRoutes,
  promoCampaignRoutes,
  accountRoutes,
  alertRoutes,
];

export interface AdminAppOptions {
  config?: Config;
  logger?: Logger;
  /** Database client (default: the isolate's shared getSql()). */
  sql?: Sql;
  /** Audit writer (default: api.log_audit after the response). */
  audit?: AuditWriter;
  /** Outbound HTTP for diagnostics (default: global fetch). */
  fetch?: typeof fetch;
  /** Route modules (default ADMIN_ROUTES). */
  routes?: readonly AdminRoutes[];
}

export function createApp(options: AdminAppOptions = {}): Hono<AppEnv> {
  const config = options.config ?? getConfig();
  const logger = options.logger ?? createLogger({ level: config.LOG_LEVEL });
  const app = createBaseApp("admin", { config, logger });
  const sql = () => options.sql ?? getSql(config);
  const deps: AdminDeps = {
    config,
    sql,
    audit: options.audit ?? createAuditWriter({ sql, log: logger.child({ function: "admin" }) }),
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
  };
  const admin = app as unknown as Hono<AdminEnv>;
  admin.use("*", adminGuard(deps));
  admin.use("*", adminAudit(deps));
  for (const register of options.routes ?? ADMIN_ROUTES) register(admin, deps);
  return app;
}

/**
 * health: liveness and readiness.
 *   GET /health          → 200 { ok, ts, version }                      (no auth, no database)
 *   GET /health?deep=1   → 200 { ok, ts, version, db: { roundTripMs, time, migrationVersion } }
 *                          or 503 SERVICE_UNAVAILABLE when the database does not answer in time.
 * The database is reached only through api.health() (tollgate_api has no table privileges).
 * Deep checks are unauthenticated work on the database, so they take a token from the per-IP
 * "unauthenticated" limit (100/min); the shallow liveness answer touches nothing and stays
 * free, so an uptime probe keeps working while the database is down.
 */
import type { Context, Hono, MiddlewareHandler } from "hono";
import { z } from "zod";
import { type Config, getConfig } from "../_shared/config.ts";
import { getSql, type Sql } from "../_shared/db/client.ts";
import {
  type DatabaseHealth,
  HealthProbeTimeout,
  probeDatabase,
} from "../_shared/db/health_probe.ts";
import { createBaseApp } from "../_shared/http/app.ts";
import { ApiError } from "../_shared/http/errors.ts";
import type { AppEnv } from "../_shared/http/types.ts";
import type { Logger } from "../_shared/log/logger.ts";
import { validate } from "../_shared/http/validate/index.ts";
import { unauthenticatedRateLimit } from "../_shared/ratelimit/unauthenticated.ts";

export interface HealthAppOptions {
  config?: Config;
  /** Base logger (default: JSON lines at LOG_LEVEL). */
  logger?: Logger;
  /** Database client (default: the isolate's shared getSql()). */
  sql?: Sql;
  /** Deep check budget in ms (default 3000). */
  deepTimeoutMs?: number;
}

const query = z.object({ deep: z.enum(["0", "1", "true", "false"]).optional() });

export function createApp(options: HealthAppOptions = {}): Hono<AppEnv> {
  const config = options.config ?? getConfig();
  const app = createBaseApp("health", { config, logger: options.logger });
  const timeoutMs = options.deepTimeoutMs ?? 3000;
  const sql = () => options.sql ?? getSql(config);
  const deepLimit = unauthenticatedRateLimit(config, { sql });

  const isDeep = (c: Context) => ["1", "true"].includes(c.req.query("deep") ?? "");
  const limitDeepChecks: MiddlewareHandler = (c, next) => isDeep(c) ? deepLimit(c, next) : next();

  app.get("/", validate("query", query), limitDeepChecks, async (c) => {
    const body = { ok: true, ts: Date.now(), version: config.TOLLGATE_VERSION };
    if (!isDeep(c)) return c.json(body);
    const db = await checkDatabase(options.sql ?? getSql(config), timeoutMs);
    return c.json({ ...body, db });
  });
  return app;
}

async function checkDatabase(sql: Sql, timeoutMs: number): Promise<DatabaseHealth> {
  try {
    return await probeDatabase(sql, timeoutMs);
  } catch (err) {
    if (err instanceof HealthProbeTimeout) {
      throw new ApiError("SERVICE_UNAVAILABLE", "The database did not answer in time");
    }
    // Any database failure means "not ready" for this endpoint; the cause is logged.
    throw new ApiError("SERVICE_UNAVAILABLE", "The database is unavailable", undefined, {
      cause: err,
    });
  }
}

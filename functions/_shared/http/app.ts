/**
 * `createBaseApp(name)`: the Hono app every function starts from, so each app.ts only adds
 * routes. Middleware order (outermost first):
 *
 *   request-id → request log → security headers → CORS → body limit → [routes]
 *   + onError (error envelope, SQL errors via mapDbError) + notFound (404 / 405)
 *
 * The request log sits just inside request-id so that it sees every answer, including 413s
 * and preflights. Routes are registered under basePath `/<name>`.
 */
import { Hono } from "hono";
import { type Config, getConfig } from "../config.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import { requestLog } from "../log/request-log/index.ts";
import { bodyLimit } from "./body-limit/index.ts";
import { cors } from "./cors/index.ts";
import { errorHandler, notFoundHandler } from "./error-handler/index.ts";
import { requestId } from "./request-id/index.ts";
import { securityHeaders } from "./security-headers/index.ts";
import type { AppEnv } from "./types.ts";

export interface BaseAppOptions {
  /** Configuration (default getConfig(): the environment, parsed once). */
  config?: Config;
  /** Base logger (default: JSON lines at config.LOG_LEVEL). */
  logger?: Logger;
}

export function createBaseApp(name: string, options: BaseAppOptions = {}): Hono<AppEnv> {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new Error(`Invalid function name: ${name}`);
  const config = options.config ?? getConfig();
  const logger = options.logger ?? createLogger({ level: config.LOG_LEVEL });

  // Middleware and handlers live on the root so they also cover paths outside the base path.
  const root = new Hono<AppEnv>();
  root.use("*", async (c, next) => {
    c.set("config", config);
    c.set("functionName", name);
    await next();
  });
  root.use("*", requestId());
  root.use("*", requestLog({ logger, functionName: name }));
  root.use("*", securityHeaders());
  root.use("*", cors({ origins: config.CORS_ORIGINS }));
  root.use("*", bodyLimit({ maxBytes: config.MAX_BODY_BYTES }));
  root.onError(errorHandler());
  root.notFound(notFoundHandler(root));
  return root.basePath(`/${name}`);
}

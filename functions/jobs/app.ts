/**
 * jobs: two-phase credit holds (issue 4).
 *   POST /jobs                  start a job (hold)          routes/start.ts
 *   GET  /jobs/:id              read a job                   routes/read.ts
 *   POST /jobs/:id/commit       debit actual, release rest   routes/settle.ts
 *   POST /jobs/:id/cancel       release the hold             routes/settle.ts
 *   POST /jobs/:id/extend       grow the hold / the expiry   routes/settle.ts
 * Every route needs a user token (auth()); each makes exactly one SQL call.
 */
import type { Hono } from "hono";
import { auth, type AuthEnv } from "../_shared/auth/middleware/index.ts";
import { type Config, getConfig } from "../_shared/config.ts";
import { getSql, type Sql } from "../_shared/db/client.ts";
import { createBaseApp } from "../_shared/http/app.ts";
import type { AppEnv } from "../_shared/http/types.ts";
import type { Logger } from "../_shared/log/logger.ts";
import { type JobsDeps, jobsStartPolicy } from "./deps.ts";
import { registerRead } from "./routes/read.ts";
import { registerSettle } from "./routes/settle.ts";
import { registerStart } from "./routes/start.ts";
import { authFailureGuard } from "../_shared/ratelimit/unauthenticated.ts";

export interface JobsAppOptions {
  config?: Config;
  logger?: Logger;
  /** Database client (default: the isolate's shared getSql()). */
  sql?: Sql;
}

export function createApp(options: JobsAppOptions = {}): Hono<AppEnv> {
  const config = options.config ?? getConfig();
  const app = createBaseApp("jobs", { config, logger: options.logger });
  const deps: JobsDeps = {
    config,
    sql: () => options.sql ?? getSql(config),
    startPolicy: jobsStartPolicy(config),
  };
  const authed = app as unknown as Hono<AuthEnv>;
  // 401s pay for the per-IP "unauthenticated" limit and are audited; successes cost nothing.
  app.use("*", authFailureGuard({ sql: deps.sql }));
  authed.use("*", auth());
  registerStart(authed, deps);
  registerRead(authed, deps);
  registerSettle(authed, deps);
  return app;
}

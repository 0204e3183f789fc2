/**
 * The Hono environment shared by every function: what the base middleware puts in `c.var`.
 * `auth()` adds `AuthVariables` (see ../auth/middleware).
 */
import type { Config } from "../config.ts";
import type { Logger } from "../log/logger.ts";
import type { ErrorCode } from "./errors.ts";

export interface BaseVariables {
  /** Kept from a well-formed X-Request-Id, else a fresh UUID (request-id middleware). */
  requestId: string;
  /** The function's name, e.g. "jobs" (createBaseApp). */
  functionName: string;
  /** The parsed configuration (createBaseApp). */
  config: Config;
  /** Logger bound to requestId and function (request-log middleware). */
  log: Logger;
  /** Set by auth() once the caller is known; read by the request log. */
  account?: string;
  /** Set by the error handler so the request line names the error code. */
  errorCode?: ErrorCode;
}

export type AppEnv = { Variables: BaseVariables };

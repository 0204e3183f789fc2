/** What every admin route module receives, and the Hono environment of the admin app. */
import type { Hono } from "hono";
import type { AuditWriter } from "../_shared/audit/writer.ts";
import type { Config } from "../_shared/config.ts";
import type { Sql } from "../_shared/db/client.ts";
import type { BaseVariables } from "../_shared/http/types.ts";

/** Which configured secret the caller presented (rotation: ADMIN_SECRET_NEXT is "next"). */
export type AdminSecretUsed = "current" | "next";

export interface AdminVariables {
  /** Set by the guard once X-Admin-Secret matched. */
  adminSecret: AdminSecretUsed;
  /** HMAC of the client IP (null when no trusted client IP header was present). */
  ipHash: string | null;
  /** The action name audited for this request, e.g. "flags.update" (routes set it). */
  adminAction?: string;
  /** Extra audit metadata (redacted before it is written). */
  adminAudit?: Record<string, unknown>;
  /** The account the action concerns, audited in the account_id column. */
  adminAccountId?: string;
}

export type AdminEnv = { Variables: BaseVariables & AdminVariables };

export interface AdminDeps {
  config: Config;
  /** The database client, connected as tollgate_api (resolved per request). */
  sql: () => Sql;
  audit: AuditWriter;
  /** Outbound HTTP for diagnostics (injectable for tests). */
  fetch: typeof fetch;
}

/**
 * A route module: registers its routes on the guarded, audited `/admin` app. Add one by
 * appending it to ADMIN_ROUTES in app.ts (e.g. routes/alerts.ts for POST /admin/alerts/dispatch).
 */
export type AdminRoutes = (app: Hono<AdminEnv>, deps: AdminDeps) => void;

/** `admin:current` / `admin:next`: the actor recorded by SQL functions that take one. */
export function adminActor(secret: AdminSecretUsed): string {
  return `admin:${secret}`;
}

/**
 * `adminAudit(deps)`: every admin action that passed the guard is an audit event (category
 * admin), written after the response: action `admin.<c.var.adminAction>` (routes name
 * themselves; unnamed → admin.request), the request id, the client IP's HMAC, which secret was
 * used (current | next), method, route pattern, status, error code, and whatever the route put
 * in c.var.adminAudit (redacted by the writer).
 */
import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { AdminDeps, AdminEnv } from "../../deps.ts";

export function adminAudit(deps: AdminDeps): MiddlewareHandler<AdminEnv> {
  return async function adminAuditMiddleware(c, next) {
    await next();
    const route = matchedRoutes(c).filter((r) => r.method !== "ALL").at(-1)?.path ?? "(unmatched)";
    deps.audit.record({
      category: "admin",
      action: `admin.${c.var.adminAction ?? "request"}`,
      accountId: c.var.adminAccountId ?? null,
      ipHash: c.var.ipHash,
      requestId: c.var.requestId,
      metadata: {
        secretUsed: c.var.adminSecret,
        method: c.req.method,
        route,
        status: c.res.status,
        ...(c.var.errorCode ? { errorCode: c.var.errorCode } : {}),
        ...c.var.adminAudit,
      },
    });
  };
}

/**
 * `adminGuard(deps)`: every admin request passes here first.
 *
 * 1. ADMIN_SECRET unset → 503 ADMIN_DISABLED (the admin API is off; nothing else is touched).
 *    ADMIN_SECRET_NEXT alone does not enable it: it only exists to rotate ADMIN_SECRET.
 * 2. Rate limit "admin" per client IP (default 30/min) BEFORE the secret is looked at, so every
 *    guess costs a token → 429 RATE_LIMITED with Retry-After. RateLimit headers on every answer.
 * 3. X-Admin-Secret compared in constant time with ADMIN_SECRET and ADMIN_SECRET_NEXT
 *    (secret.ts). Missing or wrong → 401 UNAUTHORIZED and a security audit event `auth.failed`
 *    {function: admin, reason} with the IP's HMAC. Otherwise c.var.adminSecret = current | next.
 */
import type { MiddlewareHandler } from "hono";
import { clientIpHash } from "../../../_shared/audit/client_ip_hash.ts";
import { ApiError } from "../../../_shared/http/errors.ts";
import { mutateHeaders } from "../../../_shared/http/request-id/index.ts";
import { clientIpKey } from "../../../_shared/ratelimit/client_ip.ts";
import type { RateLimitDecision } from "../../../_shared/ratelimit/decision.ts";
import { rateLimitedError } from "../../../_shared/ratelimit/errors.ts";
import { rateLimitHeaders } from "../../../_shared/ratelimit/headers.ts";
import { createSqlRateLimitTaker } from "../../../_shared/ratelimit/take.ts";
import type { AdminDeps, AdminEnv } from "../../deps.ts";
import { matchAdminSecret } from "../../secret.ts";

export const ADMIN_SECRET_HEADER = "X-Admin-Secret";

export function adminGuard(deps: AdminDeps): MiddlewareHandler<AdminEnv> {
  const { config } = deps;
  return async function adminGuardMiddleware(c, next) {
    if (!config.ADMIN_SECRET) {
      throw new ApiError("ADMIN_DISABLED", "The admin API is disabled (ADMIN_SECRET is not set)");
    }
    const headers = c.req.raw.headers;
    const ipHash = await clientIpHash(headers, config.IP_HASH_SECRET);
    c.set("ipHash", ipHash);

    let decision: RateLimitDecision | null = null;
    if (config.RATE_LIMITING.enabled) {
      const take = createSqlRateLimitTaker(deps.sql());
      decision = await take(
        config.RATE_LIMITING.policies.admin,
        await clientIpKey(headers, config.IP_HASH_SECRET),
      );
      if (!decision.allowed) throw rateLimitedError(decision);
    }

    const which = await matchAdminSecret(c.req.header(ADMIN_SECRET_HEADER), {
      current: config.ADMIN_SECRET,
      next: config.ADMIN_SECRET_NEXT,
    });
    if (!which) {
      const reason = c.req.header(ADMIN_SECRET_HEADER)
        ? "bad_admin_secret"
        : "missing_admin_secret";
      deps.audit.record({
        category: "security",
        action: "auth.failed",
        ipHash,
        requestId: c.var.requestId,
        metadata: { function: "admin", reason, method: c.req.method, path: c.req.path },
      });
      throw new ApiError(
        "UNAUTHORIZED",
        "A valid X-Admin-Secret header is required",
        { reason },
        { headers: decision ? rateLimitHeaders([decision]) : {} },
      );
    }
    c.set("adminSecret", which);
    await next();
    // Also on error responses (the error handler builds a fresh Response).
    if (decision) {
      const rl = rateLimitHeaders([decision]);
      mutateHeaders(c, (h) => {
        for (const [name, value] of Object.entries(rl)) h.set(name, value);
      });
    }
  };
}

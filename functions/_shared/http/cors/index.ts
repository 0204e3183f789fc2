/**
 * CORS for browser clients, from CORS_ORIGINS (exact origins).
 * - An allowed origin is echoed in Access-Control-Allow-Origin; a disallowed one gets NO
 *   Access-Control-* headers at all (never a fallback origin), so the browser blocks it.
 * - Preflight (OPTIONS + Origin + Access-Control-Request-Method) is answered 204 here.
 * - No credentials: callers authenticate with bearer tokens, not cookies.
 * - `Vary: Origin` always, so caches never serve one origin's answer to another.
 */
import type { MiddlewareHandler } from "hono";
import { mutateHeaders } from "../request-id/index.ts";

export const CORS_ALLOW_HEADERS = [
  "Authorization",
  "Content-Type",
  "X-Device-Id",
  "X-Job-Id",
  "X-Job-Token",
  "Idempotency-Key",
  "X-Request-Id",
  "X-Admin-Secret",
  "apikey",
  "x-client-info",
] as const;

export const CORS_EXPOSE_HEADERS = [
  "X-Request-Id",
  "RateLimit",
  "RateLimit-Policy",
  "Retry-After",
  "Idempotent-Replayed",
] as const;

export const CORS_ALLOW_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

export interface CorsOptions {
  /** Exact origins (scheme://host[:port]); "*" allows any origin (refused in production). */
  origins: readonly string[];
  /** Preflight cache lifetime in seconds (default 600). */
  maxAgeSeconds?: number;
}

export function cors(options: CorsOptions): MiddlewareHandler {
  const allowed = new Set(options.origins);
  const anyOrigin = allowed.has("*");
  const maxAge = String(options.maxAgeSeconds ?? 600);
  const allowOrigin = (origin: string | undefined): string | null => {
    if (!origin) return null;
    if (anyOrigin) return "*";
    return allowed.has(origin) ? origin : null;
  };

  return async function corsMiddleware(c, next) {
    const origin = c.req.header("Origin");
    const acao = allowOrigin(origin);
    const isPreflight = c.req.method === "OPTIONS" && origin !== undefined &&
      c.req.header("Access-Control-Request-Method") !== undefined;

    if (isPreflight) {
      const headers = new Headers({
        Vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
      });
      if (acao) {
        headers.set("Access-Control-Allow-Origin", acao);
        headers.set("Access-Control-Allow-Methods", CORS_ALLOW_METHODS.join(", "));
        headers.set("Access-Control-Allow-Headers", CORS_ALLOW_HEADERS.join(", "));
        headers.set("Access-Control-Max-Age", maxAge);
      }
      return new Response(null, { status: 204, headers });
    }

    await next();
    mutateHeaders(c, (h) => {
      appendVary(h, "Origin");
      // Never let a handler's (or upstream's) CORS headers through for a disallowed origin.
      for (const name of [...h.keys()]) {
        if (name.startsWith("access-control-")) h.delete(name);
      }
      if (acao) {
        h.set("Access-Control-Allow-Origin", acao);
        h.set("Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS.join(", "));
      }
    });
  };
}

function appendVary(h: Headers, value: string): void {
  const current = h.get("Vary");
  if (!current) h.set("Vary", value);
  else if (!current.split(",").some((v) => v.trim().toLowerCase() === value.toLowerCase())) {
    h.set("Vary", `${current}, ${value}`);
  }
}

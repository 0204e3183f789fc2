/**
 * Security headers on every response (issue #3): an API answers JSON or media, never a page,
 * so everything a browser could do with a response is switched off.
 */
import type { MiddlewareHandler } from "hono";
import { mutateHeaders } from "../request-id/index.ts";

/** The headers set on every response (errorResponse uses them too). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Permissions-Policy":
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
});

/** Headers that advertise the server software. */
export const BANNER_HEADERS = ["Server", "X-Powered-By"] as const;

export interface SecurityHeadersOptions {
  /** Override or add headers (value `null` removes one). */
  override?: Record<string, string | null>;
  /** Default `Cache-Control` when the handler set none (default "no-store": balances are private). */
  cacheControl?: string | null;
}

export function securityHeaders(options: SecurityHeadersOptions = {}): MiddlewareHandler {
  const headers: Record<string, string | null> = { ...SECURITY_HEADERS, ...options.override };
  const cacheControl = options.cacheControl === undefined ? "no-store" : options.cacheControl;
  return async function securityHeadersMiddleware(c, next) {
    await next();
    mutateHeaders(c, (h) => {
      for (const [name, value] of Object.entries(headers)) {
        if (value === null) h.delete(name);
        else h.set(name, value);
      }
      for (const name of BANNER_HEADERS) h.delete(name);
      if (cacheControl && !h.has("Cache-Control")) h.set("Cache-Control", cacheControl);
    });
  };
}

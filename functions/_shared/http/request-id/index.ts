/**
 * Request id: keeps a well-formed incoming `X-Request-Id` (so a client or proxy can correlate),
 * otherwise makes a UUID. Well-formed = 8..128 characters of [A-Za-z0-9._-] — enough for UUIDs,
 * ULIDs and trace ids, and nothing that could inject into headers or log lines.
 * Sets `c.var.requestId` and the `X-Request-Id` response header.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../types.ts";

export const REQUEST_ID_HEADER = "X-Request-Id";
export const WELL_FORMED_REQUEST_ID = /^[A-Za-z0-9._-]{8,128}$/;

export interface RequestIdOptions {
  /** Trust the incoming header when well-formed (default true). */
  trustIncoming?: boolean;
  /** Id generator (default crypto.randomUUID). */
  generate?: () => string;
}

export function isWellFormedRequestId(value: string | undefined | null): value is string {
  return typeof value === "string" && WELL_FORMED_REQUEST_ID.test(value);
}

export function requestId(options: RequestIdOptions = {}): MiddlewareHandler<AppEnv> {
  const trust = options.trustIncoming ?? true;
  const generate = options.generate ?? (() => crypto.randomUUID());
  return async function requestIdMiddleware(c, next) {
    const incoming = c.req.header(REQUEST_ID_HEADER);
    const id = trust && isWellFormedRequestId(incoming) ? incoming : generate();
    c.set("requestId", id);
    await next();
    setHeader(c, REQUEST_ID_HEADER, id);
  };
}

/** Sets a response header, copying the response first when its headers are immutable. */
export function setHeader(
  c: { res: Response },
  name: string,
  value: string,
): void {
  mutateHeaders(c, (h) => h.set(name, value));
}

/** Applies `fn` to the response headers (upstream fetch responses have immutable headers). */
export function mutateHeaders(c: { res: Response }, fn: (headers: Headers) => void): void {
  try {
    fn(c.res.headers);
  } catch {
    const copy = new Response(c.res.body, c.res);
    fn(copy.headers);
    // Clear first: assigning over an existing res would merge the old (immutable) headers back.
    c.res = undefined as unknown as Response;
    c.res = copy;
  }
}

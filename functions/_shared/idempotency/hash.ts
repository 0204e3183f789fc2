/**
 * The request hash stored with an idempotency key: SHA-256 (hex) over method, path (with query)
 * and the raw body bytes, plus optional extra parts (e.g. the X-Device-Id a job binds to).
 * Raw bytes, not canonical JSON: a retry resends the same bytes, and hashing them is cheap even
 * for large AI request bodies. Keys are per account, not per route, so the path is part of it.
 */
import type { Context } from "hono";

const encoder = new TextEncoder();

/** Hex SHA-256 of `method \n path \n extra... \n body`; each part is length-prefixed. */
export async function requestHash(
  method: string,
  pathWithQuery: string,
  body: Uint8Array | string,
  extra: readonly string[] = [],
): Promise<string> {
  const bodyBytes = typeof body === "string" ? encoder.encode(body) : body;
  // Length prefixes make the encoding injective: no part can spill into the next.
  const head = [method.toUpperCase(), pathWithQuery, ...extra]
    .map((part) => `${encoder.encode(part).length}:${part}`)
    .join("\n");
  const headBytes = encoder.encode(`${head}\n${bodyBytes.length}:`);
  const all = new Uint8Array(headBytes.length + bodyBytes.length);
  all.set(headBytes, 0);
  all.set(bodyBytes, headBytes.length);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The hash of the current request. Reads the body through Hono's cache, so validators and
 * handlers can still read it afterwards.
 */
export async function hashRequest(c: Context, extra: readonly string[] = []): Promise<string> {
  const url = new URL(c.req.url);
  const hasBody = !["GET", "HEAD"].includes(c.req.method);
  const body = hasBody ? new Uint8Array(await c.req.arrayBuffer()) : new Uint8Array();
  return await requestHash(c.req.method, c.req.path + url.search, body, extra);
}

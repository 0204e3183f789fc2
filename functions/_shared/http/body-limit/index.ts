/**
 * Request body size limit, counted on the stream: a Content-Length above the limit is refused
 * before reading, and every body (chunked, or with a lying Content-Length) is read chunk by chunk
 * and refused as soon as it passes the limit — memory use is bounded by the limit.
 * The accepted body is buffered and handed on as a fresh Request (bodies here are JSON ≤ 1 MiB).
 * Failure: 413 REQUEST_TOO_LARGE.
 */
import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors.ts";

export interface BodyLimitOptions {
  /** Maximum body size in bytes (config MAX_BODY_BYTES, default 1 MiB). */
  maxBytes: number;
}

export function tooLarge(maxBytes: number): ApiError {
  return new ApiError("REQUEST_TOO_LARGE", `Request body exceeds ${maxBytes} bytes`, {
    maxBytes,
  });
}

export function bodyLimit(options: BodyLimitOptions): MiddlewareHandler {
  const { maxBytes } = options;
  return async function bodyLimitMiddleware(c, next) {
    const body = c.req.raw.body;
    if (!body) return await next();

    const declared = c.req.header("Content-Length");
    if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > maxBytes) {
      await body.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }

    const bytes = await readAtMost(body, maxBytes);
    if (bytes === null) throw tooLarge(maxBytes);
    c.req.raw = new Request(c.req.raw, { body: bytes });
    await next();
  };
}

/** Reads the whole stream, or returns null (and cancels it) once it passes `maxBytes`. */
export async function readAtMost(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

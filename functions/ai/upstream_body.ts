/**
 * Defensive reading of upstream answers: bounded in size and time, parsed with zod. Anything
 * unexpected is a value ("malformed", "broken", "timeout"), never a crash; the route turns it
 * into 502/504 and a full refund.
 */
import { z } from "zod";
import type { UpstreamOk } from "../_shared/upstream/mod.ts";

export type BodyRead =
  | { ok: true; text: string }
  | { ok: false; reason: "timeout" | "broken" | "too_large" };

/** Reads the whole body: at most `maxBytes`, at most `idleMs` of silence between chunks. */
export async function readUpstreamText(
  upstream: UpstreamOk,
  options: { idleMs: number; maxBytes: number },
): Promise<BodyRead> {
  const body = upstream.response.body;
  if (!body) return { ok: true, text: "" };
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    while (true) {
      const next = await readWithin(reader, options.idleMs);
      if (next === "timeout") {
        upstream.abort(new DOMException("upstream body idle timeout", "TimeoutError"));
        return { ok: false, reason: "timeout" };
      }
      if (next.done) break;
      size += next.value.byteLength;
      if (size > options.maxBytes) {
        upstream.abort();
        return { ok: false, reason: "too_large" };
      }
      parts.push(next.value);
    }
  } catch {
    return { ok: false, reason: "broken" };
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const p of parts) {
    bytes.set(p, offset);
    offset += p.byteLength;
  }
  return { ok: true, text: new TextDecoder().decode(bytes) };
}

/** reader.read(), or "timeout" after `ms` (the read stays pending; abort the body to end it). */
export function readWithin<T>(
  reader: ReadableStreamDefaultReader<T>,
  ms: number,
): Promise<ReadableStreamReadResult<T> | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), Math.max(1, ms));
  });
  return Promise.race([reader.read(), timeout]).finally(() => clearTimeout(timer));
}

/** JSON.parse + schema, or null. */
export function parseJson<S extends z.ZodTypeAny>(schema: S, text: string): z.output<S> | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  const result = schema.safeParse(value);
  return result.success ? result.data : null;
}

const count = z.number().int().nonnegative().max(100_000_000);

export const usageSchema = z.object({ prompt_tokens: count, completion_tokens: count })
  .passthrough();

/** A chat completion as far as we rely on it (other fields pass through untouched). */
export const chatCompletionSchema = z.object({
  choices: z.array(
    z.object({
      message: z.object({ content: z.string().nullable().optional() }).passthrough(),
    }).passthrough(),
  ).min(1),
  usage: usageSchema.nullable().optional(),
}).passthrough();

/** One SSE chunk of a streamed chat completion. */
export const chatChunkSchema = z.object({
  choices: z.array(
    z.object({
      delta: z.object({
        content: z.string().nullable().optional(),
        refusal: z.string().nullable().optional(),
      }).passthrough().optional(),
      finish_reason: z.string().nullable().optional(),
    }).passthrough(),
  ),
  usage: usageSchema.nullable().optional(),
}).passthrough();

export type ChatChunk = z.infer<typeof chatChunkSchema>;

/** An images answer: each item carries a URL or base64 data. */
export const imagesResponseSchema = z.object({
  data: z.array(
    z.object({ url: z.string().optional(), b64_json: z.string().optional() }).passthrough()
      .refine((d) => d.url !== undefined || d.b64_json !== undefined, "url or b64_json"),
  ).min(1).max(10),
}).passthrough();

/**
 * JSON bodies: only `application/json` (or `+json`) where JSON is expected (415 otherwise),
 * nesting depth checked on the raw text BEFORE parsing (a deep document never reaches
 * JSON.parse), malformed JSON → 400.
 */
import type { Context } from "hono";
import { ApiError } from "../errors.ts";

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

export const DEFAULT_MAX_JSON_DEPTH = 10;

export function isJsonContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  return JSON_MEDIA_TYPE.test(contentType.split(";")[0].trim());
}

/**
 * Depth of the deepest array/object in a JSON text (top-level object = 1), counted without
 * parsing; stops counting once `limit` is passed.
 */
export function jsonDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92 /* \ */) i++;
      else if (ch === 34 /* " */) inString = false;
      continue;
    }
    if (ch === 34) inString = true;
    else if (ch === 123 /* { */ || ch === 91 /* [ */) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (ch === 125 /* } */ || ch === 93 /* ] */) depth--;
  }
  return max;
}

/** Parses a JSON text with the depth limit; ApiError VALIDATION_FAILED on failure. */
export function parseJsonText(text: string, maxDepth = DEFAULT_MAX_JSON_DEPTH): unknown {
  if (jsonDepth(text, maxDepth) > maxDepth) {
    throw new ApiError("VALIDATION_FAILED", `JSON nesting deeper than ${maxDepth} levels`, {
      reason: "json_too_deep",
      maxDepth,
    });
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError("VALIDATION_FAILED", "Request body is not valid JSON", {
      reason: "malformed_json",
    });
  }
}

/**
 * Reads the request body as JSON: 415 unless the Content-Type is JSON, then the depth limit,
 * then JSON.parse. Use after bodyLimit (createBaseApp wires it) so the text is bounded.
 */
export async function readJson(c: Context, maxDepth?: number): Promise<unknown> {
  if (!isJsonContentType(c.req.header("Content-Type"))) {
    throw new ApiError("UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json");
  }
  const depth = maxDepth ?? (c.get("config")?.MAX_JSON_DEPTH as number | undefined) ??
    DEFAULT_MAX_JSON_DEPTH;
  const text = await c.req.text();
  if (text.trim() === "") {
    throw new ApiError("VALIDATION_FAILED", "Request body is empty", { reason: "empty_body" });
  }
  return parseJsonText(text, depth);
}

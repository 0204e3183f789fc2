/**
 * Bodies of POSTs whose fields are all optional (commit, cancel, extend): an empty body means
 * `{}`; anything else must be JSON (415/400 as everywhere) and is validated strictly.
 */
import type { Context } from "hono";
import type { z } from "zod";
import { parseOrThrow, readJson } from "../_shared/http/validate/index.ts";

export async function optionalJsonBody<S extends z.ZodTypeAny>(
  c: Context,
  schema: S,
): Promise<z.output<S>> {
  const text = await c.req.text();
  const value = text.trim() === "" ? {} : await readJson(c);
  return parseOrThrow(schema, value, "json");
}

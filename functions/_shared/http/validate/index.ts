/**
 * `validate(target, schema)`: validates the JSON body, the query string or the path parameters
 * with a zod schema; handlers read the typed result with `c.req.valid(target)`.
 *
 * - A top-level `z.object` is made strict (unknown fields are errors) unless the schema opted
 *   into `.passthrough()`; nested objects must be declared `.strict()` by the caller.
 * - Failures are 400 VALIDATION_FAILED with `details.fields = [{ path, message }]`, one per
 *   problem; unknown keys are listed with their full path. Values are never echoed.
 * - "json" also enforces the JSON content type (415), the depth limit and malformed JSON (400).
 */
import type { Context, MiddlewareHandler } from "hono";
import { z } from "zod";
import { ApiError } from "../errors.ts";
import { readJson } from "./json.ts";

export {
  DEFAULT_MAX_JSON_DEPTH,
  isJsonContentType,
  jsonDepth,
  parseJsonText,
  readJson,
} from "./json.ts";

export type ValidationTarget = "json" | "query" | "param";

export interface FieldProblem {
  /** Dotted path, e.g. "messages.0.role"; "" for the whole value. */
  path: string;
  message: string;
}

/** zod issues → field problems (unknown keys expanded to one entry per key). */
export function fieldProblems(error: z.ZodError): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const issue of error.issues) {
    if (issue.code === z.ZodIssueCode.unrecognized_keys) {
      for (const key of issue.keys) {
        out.push({ path: [...issue.path, key].join("."), message: "Unknown field" });
      }
      continue;
    }
    out.push({ path: issue.path.join("."), message: safeMessage(issue) });
  }
  return out;
}

/** zod messages that could quote the received value are replaced by neutral ones. */
function safeMessage(issue: z.ZodIssue): string {
  if (issue.code === z.ZodIssueCode.invalid_enum_value) {
    return `Expected one of: ${issue.options.map(String).join(", ")}`;
  }
  if (issue.code === z.ZodIssueCode.invalid_literal) return "Invalid value";
  return issue.message;
}

export function validationError(error: z.ZodError, target: ValidationTarget): ApiError {
  return new ApiError("VALIDATION_FAILED", `Invalid request ${targetName[target]}`, {
    fields: fieldProblems(error),
  });
}

const targetName: Record<ValidationTarget, string> = {
  json: "body",
  query: "query",
  param: "path parameters",
};

/** Makes a top-level object schema strict unless it chose passthrough/strict itself. */
export function strictTopLevel<S extends z.ZodTypeAny>(schema: S): S {
  if (schema instanceof z.ZodObject && schema._def.unknownKeys === "strip") {
    return schema.strict() as unknown as S;
  }
  return schema;
}

async function readTarget(c: Context, target: ValidationTarget): Promise<unknown> {
  if (target === "json") return await readJson(c);
  if (target === "param") return c.req.param();
  // Repeated query keys become arrays; single ones stay strings.
  const queries = c.req.queries();
  return Object.fromEntries(
    Object.entries(queries).map(([k, v]) => [k, v.length === 1 ? v[0] : v]),
  );
}

/** Parses `schema` against `value`, throwing the 400 envelope error on failure. */
export function parseOrThrow<S extends z.ZodTypeAny>(
  schema: S,
  value: unknown,
  target: ValidationTarget = "json",
): z.output<S> {
  const result = strictTopLevel(schema).safeParse(value);
  if (!result.success) throw validationError(result.error, target);
  return result.data;
}

type ValidatedInput<T extends ValidationTarget, S extends z.ZodTypeAny> = {
  in: { [K in T]: K extends "json" ? z.input<S> : Record<string, string | string[]> };
  out: { [K in T]: z.output<S> };
};

export function validate<T extends ValidationTarget, S extends z.ZodTypeAny>(
  target: T,
  schema: S,
  // deno-lint-ignore no-explicit-any
): MiddlewareHandler<any, string, ValidatedInput<T, S>> {
  const strict = strictTopLevel(schema);
  return async function validateMiddleware(c, next) {
    const value = await readTarget(c, target);
    const result = await strict.safeParseAsync(value);
    if (!result.success) throw validationError(result.error, target);
    c.req.addValidatedData(target, result.data);
    await next();
  };
}

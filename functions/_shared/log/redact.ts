/**
 * Redaction for everything that is logged (issue #3 "logging"): secret-looking keys anywhere in
 * an object graph, and token-looking substrings inside any string (messages, stacks, causes).
 * Logs are shipped off-box; a secret must never reach them.
 */

export const REDACTED = "[REDACTED]";

/**
 * Keys (compared lower-case with `-` and `_` removed) whose values are always secret.
 * `code` is here because promo codes travel as `{ code }`; log error codes as `errorCode`.
 */
const SECRET_KEYS = new Set([
  "authorization",
  "proxyauthorization",
  "cookie",
  "setcookie",
  "xadminsecret",
  "xjobtoken",
  "apikey",
  "xapikey",
  "password",
  "passwd",
  "secret",
  "token",
  "code",
  "promocode",
  "privatekey",
  "clientsecret",
  "jwt",
  "credentials",
  "dburl",
  "connectionstring",
]);

/** Key endings that mark a secret (`jobToken`, `ADMIN_SECRET`, `openai_api_key`, …). */
const SECRET_KEY_SUFFIXES = ["secret", "token", "password", "apikey", "privatekey"];

export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_]/g, "");
  return SECRET_KEYS.has(k) || SECRET_KEY_SUFFIXES.some((s) => k.endsWith(s));
}

/** Patterns of secrets inside free text, each with its replacement. */
const STRING_PATTERNS: [RegExp, string][] = [
  // Authorization schemes followed by a credential.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`],
  // JWTs / JWEs: a base64url JSON header ("eyJ") then dot-separated segments.
  [/\beyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){2,4}/g, REDACTED],
  // Any three long base64url segments (a JWT whose header does not start with eyJ).
  [/\b[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}\b/g, REDACTED],
  // OpenAI-style and Stripe-style API keys.
  [/\bsk-[A-Za-z0-9_-]{8,}/g, REDACTED],
  [/\b(?:sk|rk|pk|whsec)_(?:live|test)_[A-Za-z0-9]{8,}/g, REDACTED],
  // Passwords inside connection URLs: scheme://user:password@host.
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+):[^\s@/]+@/gi, `$1:${REDACTED}@`],
  // PEM private keys.
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g, REDACTED],
];

export function redactString(value: string): string {
  let out = value;
  for (const [pattern, replacement] of STRING_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

const MAX_DEPTH = 12;

/**
 * Returns a redacted, JSON-safe copy of `value`: objects, arrays, Maps, Headers, Errors (with
 * their `cause` chain) and strings are walked; cycles become "[Circular]".
 */
export function redact(value: unknown): unknown {
  return walk(value, 0, new WeakSet());
}

function walk(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === "string") return redactString(value);
  if (typeof value === "bigint") return value.toString();
  if (value === null || typeof value !== "object") {
    return typeof value === "function" || typeof value === "symbol" ? undefined : value;
  }
  if (seen.has(value)) return "[Circular]";
  if (depth >= MAX_DEPTH) return "[Truncated]";
  seen.add(value);
  try {
    if (value instanceof Date) return value.toISOString();
    if (value instanceof Error) return walkError(value, depth, seen);
    if (value instanceof Headers || value instanceof Map) {
      return walkEntries([...value.entries()], depth, seen);
    }
    if (value instanceof URL) return redactString(value.href);
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return "[Binary]";
    if (Array.isArray(value)) return value.map((v) => walk(v, depth + 1, seen));
    return walkEntries(Object.entries(value), depth, seen);
  } finally {
    seen.delete(value);
  }
}

function walkEntries(
  entries: [unknown, unknown][],
  depth: number,
  seen: WeakSet<object>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) {
    const key = String(k);
    out[key] = isSecretKey(key) && v !== undefined && v !== null
      ? REDACTED
      : walk(v, depth + 1, seen);
  }
  return out;
}

function walkError(err: Error, depth: number, seen: WeakSet<object>): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: err.name,
    message: redactString(err.message),
  };
  if (err.stack) out.stack = redactString(err.stack);
  // Own fields (e.g. a PostgresError's detail/hint/query) are redacted like any object, except
  // that an Error's `code` is an error code (SQLSTATE, ECONNREFUSED), not a promo code.
  const { code, ...fields } = err as Error & { code?: unknown };
  Object.assign(out, walkEntries(Object.entries(fields), depth, seen));
  if (code !== undefined) {
    out.code = typeof code === "string" && /^[A-Z0-9_]{2,40}$/.test(code) ? code : REDACTED;
  }
  if (err.cause !== undefined) out.cause = walk(err.cause, depth + 1, seen);
  return out;
}

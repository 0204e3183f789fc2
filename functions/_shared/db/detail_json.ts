/**
 * The JSON object a SQL function put in an exception's detail or hint. Postgres carries them as
 * text, so every reader parses the same way and treats anything else as "no detail".
 */

/** `text` parsed as a JSON object (not an array); null when it is empty, malformed or another type. */
export function parseJsonObject(text: string | undefined): Record<string, unknown> | null {
  if (!text) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  return value as Record<string, unknown>;
}

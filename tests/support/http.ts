/** Raw HTTP calls to the functions through the local gateway, for assertions on status and bytes. */
import { fnUrl } from "./env.ts";

export interface FnResponse {
  res: Response;
  status: number;
  /** The body as received (byte-identical replays are compared on it). */
  text: string;
  /** The body parsed as JSON; null when it is empty. */
  // deno-lint-ignore no-explicit-any
  body: any;
}

/**
 * `method path` (e.g. "POST", "/jobs") with `body` sent as-is: a JSON content type is added when
 * there is a body, before `headers`, so a test can still override it.
 */
export async function callFn(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<FnResponse> {
  const res = await fetch(fnUrl(path), {
    method,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    body,
  });
  const text = await res.text();
  return { res, status: res.status, text, body: text ? JSON.parse(text) : null };
}

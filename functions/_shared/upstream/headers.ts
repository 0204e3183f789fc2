/**
 * Header allow-list for requests to the AI provider. Headers are BUILT from scratch, never copied
 * from the client request: the client's Authorization (their JWT), cookies, X-Device-Id,
 * X-Job-Id/Token, forwarding headers etc. can therefore never reach the upstream.
 */

/** The only header names we ever set on an upstream request (lower-case). */
export const UPSTREAM_HEADER_ALLOW_LIST: readonly string[] = [
  "authorization",
  "content-type",
  "accept",
];

/**
 * Builds the complete upstream header set: `Authorization: Bearer <apiKey>` (the server secret),
 * plus `Content-Type` when there is a body and `Accept` (default application/json; use
 * "text/event-stream" for streamed chat, "*\/*" for speech).
 */
export function buildUpstreamHeaders(
  apiKey: string,
  contentType?: string,
  accept = "application/json",
): Headers {
  if (!apiKey.trim()) throw new Error("upstream API key is empty");
  if (/[\r\n]/.test(apiKey) || (contentType && /[\r\n]/.test(contentType))) {
    throw new Error("header values must not contain line breaks");
  }
  const headers = new Headers();
  headers.set("Authorization", `Bearer ${apiKey}`);
  if (contentType) headers.set("Content-Type", contentType);
  headers.set("Accept", accept);
  return headers;
}

/** Defence in depth for callUpstream: refuses a header set containing anything off the list. */
export function assertAllowedUpstreamHeaders(headers: Headers): void {
  for (const [name] of headers) {
    if (!UPSTREAM_HEADER_ALLOW_LIST.includes(name.toLowerCase())) {
      throw new Error(`header "${name}" is not on the upstream allow-list`);
    }
  }
}

/** Retry policy pieces: which answers are retryable, backoff with full jitter, Retry-After. */

/** 429 and 5xx are worth another attempt; every other status is final. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/**
 * "Full jitter" backoff (AWS architecture blog): a uniform random delay in
 * [0, min(maxDelayMs, baseDelayMs · 2^(retry-1))). `retry` is 1 for the first retry.
 */
export function backoffDelayMs(
  retry: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number,
): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Reads the upstream's wish for a pause: `retry-after-ms` (OpenAI sends it) or `Retry-After`
 * as delta-seconds or an HTTP-date. Returns milliseconds ≥ 0, or undefined when absent/invalid.
 */
export function parseRetryAfterMs(headers: Headers, now: number): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms !== null && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return Math.ceil(Number(ms));
  const value = headers.get("retry-after");
  if (value === null || value.trim() === "") return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

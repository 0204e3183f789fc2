/**
 * Webhook signatures: HMAC-SHA256 with ALERT_SIGNING_SECRET over `<timestamp>.<body>`, sent as
 *
 *   X-Tollgate-Signature: t=<unix seconds>,v1=<hex HMAC>
 *
 * The timestamp is inside the signed text, so a receiver can refuse old deliveries (replays);
 * the body is the exact bytes sent. `verifySignature` is what a receiver does (and the tests).
 */

export const SIGNATURE_HEADER = "X-Tollgate-Signature";
export const ALERT_ID_HEADER = "X-Tollgate-Alert-Id";

const encoder = new TextEncoder();

async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(text)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The header value for `body` signed at `timestampSeconds`. */
export async function signatureHeader(
  secret: string,
  body: string,
  timestampSeconds: number,
): Promise<string> {
  const t = Math.floor(timestampSeconds);
  return `t=${t},v1=${await hmacHex(secret, `${t}.${body}`)}`;
}

/** Constant-time comparison of two equal-length hex strings. */
function equalHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export interface VerifyOptions {
  /** Reject signatures older (or newer) than this many seconds (default 300). */
  toleranceSeconds?: number;
  /** Current time in seconds (default: now). */
  nowSeconds?: number;
}

/** True when `header` is a valid, fresh signature of `body` with `secret`. */
export async function verifySignature(
  secret: string,
  body: string,
  header: string | null,
  options: VerifyOptions = {},
): Promise<boolean> {
  if (!header) return false;
  const parts = new Map(
    header.split(",").map((p) => p.trim().split("=", 2) as [string, string]),
  );
  const t = Number(parts.get("t"));
  const v1 = parts.get("v1");
  if (!Number.isInteger(t) || !v1 || !/^[0-9a-f]{64}$/.test(v1)) return false;
  const now = options.nowSeconds ?? Date.now() / 1000;
  if (Math.abs(now - t) > (options.toleranceSeconds ?? 300)) return false;
  return equalHex(await hmacHex(secret, `${t}.${body}`), v1);
}

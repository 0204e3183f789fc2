/**
 * The `ip_hash` of audit rows: HMAC-SHA256 (IP_HASH_SECRET, base64url) of the trusted client IP
 * — the same subject and encoding as the "ip:<hash>" rate-limit keys (IPv4 address, IPv6 /64),
 * so anomalies found in the audit log match rate-limit buckets. Null when no trusted IP is
 * present (see ratelimit/client_ip.ts for which headers are trusted and why).
 */
import {
  clientIp,
  hashClientIp,
  type HeaderSource,
  ipRateLimitSubject,
} from "../ratelimit/client_ip.ts";

export async function clientIpHash(headers: HeaderSource, secret: string): Promise<string | null> {
  const ip = clientIp(headers);
  if (ip === null) return null;
  return await hashClientIp(ipRateLimitSubject(ip), secret);
}

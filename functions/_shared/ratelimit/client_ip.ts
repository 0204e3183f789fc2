/**
 * The client IP behind Supabase's gateway, and how it becomes a rate-limit key.
 *
 * What is trusted, and why:
 * 1. `CF-Connecting-IP`. Hosted Supabase (*.supabase.co and custom domains) is served through
 *    Cloudflare, which sets this header to the address that connected to Cloudflare on every
 *    proxied request; a client cannot choose it. Supabase itself documents no header contract
 *    for Edge Functions (an open community question, supabase/discussions #52040), so we rely on
 *    Cloudflare's documented behaviour.
 * 2. Otherwise the RIGHTMOST `X-Forwarded-For` entry: the hop appended by the proxy in front of
 *    us. This is the path of the local gateway (supabase/local/gateway.ts), which must set the
 *    header from the socket address. The LEFTMOST entry is deliberately NOT used: proxies
 *    (Cloudflare included) append to a client-sent X-Forwarded-For, so the first value is
 *    whatever the client wrote and would give an attacker a fresh rate-limit bucket per request.
 * 3. Otherwise null: the caller decides (e.g. a shared "ip:unknown" bucket).
 * `X-Real-IP` and `Forwarded` are ignored: nothing on the path guarantees who wrote them.
 *
 * An IP is never stored raw: `clientIpKey` HMACs it with IP_HASH_SECRET (WebCrypto HMAC-SHA256).
 * IPv6 clients are keyed by their /64 (one subscriber usually owns a whole /64, and limiting
 * single addresses in it would be trivial to rotate around).
 */
import { hmacSha256Key } from "../crypto/hmac_key.ts";
import { rateLimitKey } from "./policies.ts";

export const CF_CONNECTING_IP = "cf-connecting-ip";
export const X_FORWARDED_FOR = "x-forwarded-for";

/** The minimal header interface: works with `Headers` and Hono's `c.req.raw.headers`. */
export interface HeaderSource {
  get(name: string): string | null;
}

/** The trusted client IP (normalised, see `normalizeIp`), or null when none is available. */
export function clientIp(headers: HeaderSource): string | null {
  const cf = headers.get(CF_CONNECTING_IP);
  if (cf !== null) return normalizeIp(cf);
  const xff = headers.get(X_FORWARDED_FOR);
  if (xff !== null) {
    const hops = xff.split(",");
    return normalizeIp(hops[hops.length - 1]);
  }
  return null;
}

/**
 * A syntactically valid IP in canonical form, or null. IPv4 as dotted quad; IPv6 as eight
 * lower-case hextets without zero compression; IPv4-mapped IPv6 (::ffff:a.b.c.d) as IPv4.
 */
export function normalizeIp(raw: string): string | null {
  let value = raw.trim();
  if (value.startsWith("[") && value.endsWith("]")) value = value.slice(1, -1);
  const v4 = parseIpv4(value);
  if (v4) return v4.join(".");
  const v6 = parseIpv6(value);
  if (!v6) return null;
  if (v6.slice(0, 5).every((h) => h === 0) && v6[5] === 0xffff) {
    return [v6[6] >> 8, v6[6] & 0xff, v6[7] >> 8, v6[7] & 0xff].join(".");
  }
  return v6.map((h) => h.toString(16)).join(":");
}

/** What is limited for an IP: the address for IPv4, the /64 prefix for IPv6. */
export function ipRateLimitSubject(normalizedIp: string): string {
  if (!normalizedIp.includes(":")) return normalizedIp;
  return `${normalizedIp.split(":").slice(0, 4).join(":")}::/64`;
}

/** Minimum secret length: the IPv4 space is small enough to brute-force a weak key. */
export const MIN_IP_HASH_SECRET_LENGTH = 16;

/** HMAC-SHA256(secret, ip) as base64url (default, 43 chars) or hex (64 chars). */
export async function hashClientIp(
  ip: string,
  secret: string,
  encoding: "base64url" | "hex" = "base64url",
): Promise<string> {
  if (secret.length < MIN_IP_HASH_SECRET_LENGTH) {
    throw new Error(`IP_HASH_SECRET must be at least ${MIN_IP_HASH_SECRET_LENGTH} characters`);
  }
  const mac = new Uint8Array(
    await crypto.subtle.sign("HMAC", await hmacSha256Key(secret), new TextEncoder().encode(ip)),
  );
  return encoding === "hex" ? toHex(mac) : toBase64Url(mac);
}

/**
 * The rate-limit key for the request's client IP: "ip:<hmac of ip or /64>", or "ip:unknown" when
 * no trusted IP is present (all such requests then share one bucket, which fails closed).
 */
export async function clientIpKey(headers: HeaderSource, secret: string): Promise<string> {
  const ip = clientIp(headers);
  if (ip === null) return rateLimitKey("ip", "unknown");
  return rateLimitKey("ip", await hashClientIp(ipRateLimitSubject(ip), secret));
}

function parseIpv4(value: string): number[] | null {
  const parts = value.split(".");
  if (parts.length !== 4) return null;
  const octets: number[] = [];
  for (const part of parts) {
    // No leading zeros: "010" is octal to some parsers and decimal to others.
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    octets.push(n);
  }
  return octets;
}

function parseIpv6(value: string): number[] | null {
  if (!/^[0-9a-fA-F:.]+$/.test(value) || value.length > 45) return null;
  const halves = value.split("::");
  if (halves.length > 2) return null;
  const compressed = halves.length === 2;
  // An embedded IPv4 may only end the address: the tail, or the head when nothing is compressed.
  const head = parseHextets(halves[0], !compressed);
  const tail = compressed ? parseHextets(halves[1], true) : [];
  if (!head || !tail) return null;
  if (!compressed) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

function parseHextets(part: string, ipv4Tail: boolean): number[] | null {
  if (part === "") return [];
  const groups = part.split(":");
  const hextets: number[] = [];
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i];
    if (ipv4Tail && i === groups.length - 1 && group.includes(".")) {
      const v4 = parseIpv4(group);
      if (!v4) return null;
      hextets.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(group)) {
      hextets.push(parseInt(group, 16));
    } else {
      return null;
    }
  }
  return hextets;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

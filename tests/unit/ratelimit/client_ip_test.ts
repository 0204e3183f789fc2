import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import {
  clientIp,
  clientIpKey,
  hashClientIp,
  ipRateLimitSubject,
  normalizeIp,
} from "../../../functions/_shared/ratelimit/client_ip.ts";

const SECRET = "test-ip-hash-secret-0123456789";

Deno.test("CF-Connecting-IP (set by Cloudflare) wins over a client-written X-Forwarded-For", () => {
  const headers = new Headers({
    "cf-connecting-ip": "203.0.113.7",
    "x-forwarded-for": "198.51.100.1, 203.0.113.7",
  });
  assert.equal(clientIp(headers), "203.0.113.7");
});

Deno.test("without CF-Connecting-IP the proxy-appended (rightmost) X-Forwarded-For hop is used", () => {
  // The leftmost value is whatever the client sent; the last one is the hop our proxy added.
  assert.equal(
    clientIp(new Headers({ "x-forwarded-for": "1.2.3.4, 198.51.100.9" })),
    "198.51.100.9",
  );
  assert.equal(clientIp(new Headers({ "x-forwarded-for": "198.51.100.9" })), "198.51.100.9");
});

Deno.test("X-Real-IP and Forwarded are not trusted; no trusted header means null", () => {
  assert.equal(clientIp(new Headers({ "x-real-ip": "1.2.3.4", forwarded: "for=1.2.3.4" })), null);
  assert.equal(clientIp(new Headers()), null);
});

Deno.test("garbage in the trusted header yields null rather than a key the client chose", () => {
  assert.equal(clientIp(new Headers({ "cf-connecting-ip": "not-an-ip" })), null);
  assert.equal(clientIp(new Headers({ "x-forwarded-for": "1.2.3.4, evil" })), null);
});

Deno.test("normalizeIp accepts IPv4 and IPv6 forms and canonicalises them", () => {
  assert.equal(normalizeIp(" 192.0.2.1 "), "192.0.2.1");
  assert.equal(normalizeIp("2001:DB8::1"), "2001:db8:0:0:0:0:0:1");
  assert.equal(normalizeIp("[2001:db8::1]"), "2001:db8:0:0:0:0:0:1");
  assert.equal(normalizeIp("::"), "0:0:0:0:0:0:0:0");
  assert.equal(normalizeIp("::1"), "0:0:0:0:0:0:0:1");
  assert.equal(normalizeIp("fe80::"), "fe80:0:0:0:0:0:0:0");
  assert.equal(normalizeIp("::ffff:192.0.2.1"), "192.0.2.1");
  assert.equal(normalizeIp("64:ff9b::192.0.2.1"), "64:ff9b:0:0:0:0:c000:201");
  assert.equal(normalizeIp("1:2:3:4:5:6:7:8"), "1:2:3:4:5:6:7:8");
});

Deno.test("normalizeIp rejects malformed addresses", () => {
  for (
    const bad of [
      "",
      "256.1.1.1",
      "1.2.3",
      "01.2.3.4",
      "1.2.3.4.5",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      "1:2:3:4:5:6:7::8",
      "12345::",
      "1.2.3.4::",
      "fe80::1%eth0",
      ":1::",
      "g::1",
    ]
  ) {
    assert.equal(normalizeIp(bad), null, bad);
  }
});

Deno.test("IPv6 clients are limited per /64, IPv4 per address", () => {
  assert.equal(ipRateLimitSubject("203.0.113.7"), "203.0.113.7");
  assert.equal(ipRateLimitSubject("2001:db8:1:2:aaaa:0:0:1"), "2001:db8:1:2::/64");
});

Deno.test("hashClientIp is HMAC-SHA256 in base64url (default) or hex", async () => {
  const expected = createHmac("sha256", SECRET).update("203.0.113.7");
  const hex = expected.digest("hex");
  assert.equal(await hashClientIp("203.0.113.7", SECRET, "hex"), hex);
  const b64 = Buffer.from(hex, "hex").toString("base64url");
  assert.equal(await hashClientIp("203.0.113.7", SECRET), b64);
  assert.match(b64, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(await hashClientIp("203.0.113.7", `${SECRET}x`), b64);
});

Deno.test("hashClientIp refuses a short secret", async () => {
  await assert.rejects(() => hashClientIp("203.0.113.7", "short"), /IP_HASH_SECRET/);
});

Deno.test("clientIpKey never contains the raw address", async () => {
  const key = await clientIpKey(new Headers({ "cf-connecting-ip": "203.0.113.7" }), SECRET);
  assert.match(key, /^ip:[A-Za-z0-9_-]{43}$/);
  assert.ok(!key.includes("203.0.113.7"));
  const v6a = await clientIpKey(new Headers({ "cf-connecting-ip": "2001:db8:1:2::1" }), SECRET);
  const v6b = await clientIpKey(new Headers({ "cf-connecting-ip": "2001:db8:1:2::ffff" }), SECRET);
  assert.equal(v6a, v6b, "one /64 shares one bucket");
  assert.equal(await clientIpKey(new Headers(), SECRET), "ip:unknown");
});

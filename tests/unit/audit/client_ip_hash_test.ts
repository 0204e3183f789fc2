import assert from "node:assert/strict";
import { clientIpHash } from "../../../functions/_shared/audit/client_ip_hash.ts";
import { clientIpKey } from "../../../functions/_shared/ratelimit/client_ip.ts";

const SECRET = "unit-ip-hash-secret-0123456789";

Deno.test("the audit ip_hash is the HMAC inside the rate-limit key, never the IP", async () => {
  const headers = new Headers({ "x-forwarded-for": "198.51.100.1, 203.0.113.9" });
  const hash = await clientIpHash(headers, SECRET);
  assert.match(hash ?? "", /^[A-Za-z0-9_-]{43}$/);
  assert.ok(!hash?.includes("203.0.113.9"));
  assert.equal(`ip:${hash}`, await clientIpKey(headers, SECRET));
});

Deno.test("IPv6 clients hash by their /64; no trusted IP gives null", async () => {
  const a = await clientIpHash(new Headers({ "cf-connecting-ip": "2001:db8:1:2::1" }), SECRET);
  const b = await clientIpHash(new Headers({ "cf-connecting-ip": "2001:db8:1:2:ffff::9" }), SECRET);
  const c = await clientIpHash(new Headers({ "cf-connecting-ip": "2001:db8:1:3::1" }), SECRET);
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.equal(await clientIpHash(new Headers(), SECRET), null);
});

/** HMAC-SHA256 webhook signatures: what a receiver checks. */
import assert from "node:assert/strict";
import { signatureHeader, verifySignature } from "../../../functions/_shared/alerts/signature.ts";

const SECRET = "test-alert-signing-secret-0123456789abcdef";

Deno.test("a signature verifies for the same secret, body and a fresh timestamp", async () => {
  const now = 1_900_000_000;
  const header = await signatureHeader(SECRET, '{"title":"x"}', now);
  assert.match(header, /^t=1900000000,v1=[0-9a-f]{64}$/);
  assert.equal(
    await verifySignature(SECRET, '{"title":"x"}', header, { nowSeconds: now + 10 }),
    true,
  );
});

Deno.test("a changed body, another secret, an old timestamp or garbage do not verify", async () => {
  const now = 1_900_000_000;
  const header = await signatureHeader(SECRET, "body", now);
  assert.equal(await verifySignature(SECRET, "body!", header, { nowSeconds: now }), false);
  assert.equal(await verifySignature("another-secret", "body", header, { nowSeconds: now }), false);
  assert.equal(await verifySignature(SECRET, "body", header, { nowSeconds: now + 301 }), false);
  assert.equal(await verifySignature(SECRET, "body", null), false);
  assert.equal(await verifySignature(SECRET, "body", "t=x,v1=y"), false);
  const forged = header.replace(/t=\d+/, `t=${now + 5}`); // the timestamp is signed too
  assert.equal(await verifySignature(SECRET, "body", forged, { nowSeconds: now }), false);
});

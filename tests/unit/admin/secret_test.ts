import assert from "node:assert/strict";
import { matchAdminSecret, timingSafeEqual } from "../../../functions/admin/secret.ts";

Deno.test("timingSafeEqual compares equal-length arrays byte by byte", () => {
  assert.equal(timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3])), true);
  assert.equal(timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4])), false);
  assert.equal(timingSafeEqual(new Uint8Array([9, 2, 3]), new Uint8Array([1, 2, 3])), false);
  assert.equal(timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3])), false);
});

Deno.test("matchAdminSecret names the secret that matched, current or next", async () => {
  const secrets = { current: "current-secret-value", next: "next-secret-value" };
  assert.equal(await matchAdminSecret("current-secret-value", secrets), "current");
  assert.equal(await matchAdminSecret("next-secret-value", secrets), "next");
  assert.equal(await matchAdminSecret("current-secret-valuE", secrets), null);
  assert.equal(await matchAdminSecret("current-secret-value ", secrets), null);
  assert.equal(await matchAdminSecret("", secrets), null);
  assert.equal(await matchAdminSecret(undefined, secrets), null);
});

Deno.test("an unset secret never matches, not even an empty or absent header", async () => {
  assert.equal(await matchAdminSecret("x", { current: "x" }), "current");
  assert.equal(await matchAdminSecret("x", { next: "x" }), "next");
  assert.equal(await matchAdminSecret("", {}), null);
  assert.equal(await matchAdminSecret(undefined, {}), null);
  assert.equal(await matchAdminSecret("anything", {}), null);
});

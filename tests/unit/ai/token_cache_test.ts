import assert from "node:assert/strict";
import type { VerifiedUser, Verifier } from "../../../functions/_shared/auth/verifier.ts";
import { cachingVerifier } from "../../../functions/ai/token_cache.ts";

function counting(expSeconds: number): Verifier & { calls: number } {
  const v = {
    calls: 0,
    verify(token: string): Promise<VerifiedUser> {
      v.calls++;
      if (token.startsWith("bad")) return Promise.reject(new Error("bad signature"));
      return Promise.resolve({
        account: token,
        claims: { sub: token, exp: expSeconds },
        isAnonymous: false,
      });
    },
  };
  return v;
}

Deno.test("cachingVerifier verifies a token once within its max age", async () => {
  let clock = 1_000_000;
  const inner = counting(10_000);
  const v = cachingVerifier(inner, { maxAgeMs: 60_000, now: () => clock });
  assert.equal((await v.verify("a")).account, "a");
  assert.equal((await v.verify("a")).account, "a");
  assert.equal(inner.calls, 1);
  clock += 60_000;
  await v.verify("a");
  assert.equal(inner.calls, 2, "re-verified after the max age");
});

Deno.test("cachingVerifier never serves a token past its exp, nor caches failures", async () => {
  let clock = 1_000_000;
  const inner = counting(1_010); // exp = 1 010 000 ms
  const v = cachingVerifier(inner, { maxAgeMs: 60_000, now: () => clock });
  await v.verify("a");
  clock = 1_009_999;
  await v.verify("a");
  assert.equal(inner.calls, 1);
  clock = 1_010_000;
  await v.verify("a");
  assert.equal(inner.calls, 2, "expired entries are verified again (and refused by the verifier)");
  await assert.rejects(v.verify("bad-1"));
  await assert.rejects(v.verify("bad-1"));
  assert.equal(inner.calls, 4);
});

Deno.test("cachingVerifier keeps at most maxEntries, evicting the least recently used", async () => {
  const inner = counting(Number.MAX_SAFE_INTEGER);
  const v = cachingVerifier(inner, { maxEntries: 2, now: () => 0 });
  await v.verify("a");
  await v.verify("b");
  await v.verify("a"); // a is now the most recent
  await v.verify("c"); // evicts b
  assert.equal(inner.calls, 3);
  await v.verify("a");
  assert.equal(inner.calls, 3);
  await v.verify("b");
  assert.equal(inner.calls, 4);
});

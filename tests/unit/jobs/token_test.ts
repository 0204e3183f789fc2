import assert from "node:assert/strict";
import {
  deriveJobToken,
  fromBase64Url,
  generateJobToken,
  hashJobToken,
  isWellFormedJobToken,
  jobTokenSecret,
  toBase64Url,
} from "../../../functions/_shared/jobs/mod.ts";

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

Deno.test("generateJobToken: 32 random bytes as 43 base64url chars; hash = SHA-256 of the bytes", async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const { token, hash } = await generateJobToken();
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(fromBase64Url(token).length, 32);
    assert.deepEqual(hash, await sha256(fromBase64Url(token)));
    assert.deepEqual(await hashJobToken(token), hash);
    seen.add(token);
  }
  assert.equal(seen.size, 50);
});

Deno.test("deriveJobToken: deterministic per (secret, account, key), different otherwise", async () => {
  const a = await deriveJobToken("s1", "acct", "key");
  assert.equal((await deriveJobToken("s1", "acct", "key")).token, a.token);
  assert.ok(isWellFormedJobToken(a.token));
  assert.deepEqual(a.hash, await hashJobToken(a.token));
  const others = await Promise.all([
    deriveJobToken("s2", "acct", "key"),
    deriveJobToken("s1", "acct2", "key"),
    deriveJobToken("s1", "acct", "key2"),
    deriveJobToken("s1", "acctk", "ey"),
  ]);
  assert.equal(new Set([a.token, ...others.map((o) => o.token)]).size, 5);
  await assert.rejects(() => deriveJobToken("", "a", "k"));
});

Deno.test("jobTokenSecret: derived from IP_HASH_SECRET, never equal to it", () => {
  const s = jobTokenSecret({ IP_HASH_SECRET: "abc" });
  assert.notEqual(s, "abc");
  assert.notEqual(jobTokenSecret({ IP_HASH_SECRET: "abd" }), s);
});

Deno.test("jobTokenSecret: JOB_TOKEN_SECRET, when set, is used as it is", () => {
  const dedicated = "a-dedicated-job-token-secret-of-32+chars";
  assert.equal(jobTokenSecret({ IP_HASH_SECRET: "abc", JOB_TOKEN_SECRET: dedicated }), dedicated);
});

Deno.test("base64url round-trips every byte; malformed tokens are refused", async () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(fromBase64Url(toBase64Url(all)), all);
  for (
    const bad of ["", "a".repeat(42), "a".repeat(44), "a".repeat(42) + "=", "a".repeat(42) + "+"]
  ) {
    assert.equal(isWellFormedJobToken(bad), false, bad);
    await assert.rejects(() => hashJobToken(bad));
  }
});

/**
 * The JWT table (issue #3): every accepted and every refused token, against a real local JWKS
 * endpoint (Deno.serve on port 0) and HS256 secrets.
 */
import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";
import { createVerifier, type Verifier } from "../../../functions/_shared/auth/verifier.ts";
import { ApiError } from "../../../functions/_shared/http/errors.ts";

const SUPABASE_URL = "http://127.0.0.1:54321";
const ISS = `${SUPABASE_URL}/auth/v1`;
const SECRET = "current-secret-current-secret-current-secret";
const NEXT = "next-secret-next-secret-next-secret-next-secret";
const enc = (s: string) => new TextEncoder().encode(s);

interface KeyPair {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function keyPair(alg: "ES256" | "RS256"): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = crypto.randomUUID();
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

/** A tiny JWKS endpoint whose key set the test can change. */
function jwksServer(keys: () => JWK[]) {
  let hits = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    hits++;
    return Response.json({ keys: keys() });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/auth/v1/.well-known/jwks.json`,
    hits: () => hits,
    close: () => server.shutdown(),
  };
}

function claims(overrides: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return {
    sub: crypto.randomUUID(),
    aud: "authenticated",
    iss: ISS,
    role: "authenticated",
    iat: now,
    exp: now + 3600,
    is_anonymous: false,
    ...overrides,
  };
}

function signAsym(key: KeyPair, alg: "ES256" | "RS256", payload: JWTPayload, kid = key.kid) {
  return new SignJWT(payload).setProtectedHeader({ alg, typ: "JWT", kid }).sign(key.privateKey);
}

function signHs(secret: string | Uint8Array, payload: JWTPayload) {
  return new SignJWT(payload).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(
    typeof secret === "string" ? enc(secret) : secret,
  );
}

function b64url(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

async function reason(verifier: Verifier, token: string): Promise<string> {
  try {
    await verifier.verify(token);
  } catch (err) {
    assert.ok(err instanceof ApiError, String(err));
    assert.equal(err.code, "UNAUTHORIZED");
    assert.equal(err.status, 401);
    if (token) assert.ok(!JSON.stringify({ m: err.message, d: err.details }).includes(token));
    return String(err.details?.reason);
  }
  assert.fail("token was accepted");
}

Deno.test("the JWT table", async (t) => {
  const es = await keyPair("ES256");
  const rs = await keyPair("RS256");
  let published: JWK[] = [es.publicJwk, rs.publicJwk];
  const jwks = jwksServer(() => published);
  const verifier = createVerifier({
    supabaseUrl: SUPABASE_URL,
    secrets: [SECRET, NEXT],
    jwksUrl: jwks.url,
  });
  const now = Math.floor(Date.now() / 1000);

  try {
    await t.step("valid ES256 via the JWKS", async () => {
      const c = claims({ is_anonymous: true });
      const user = await verifier.verify(await signAsym(es, "ES256", c));
      assert.equal(user.account, c.sub);
      assert.equal(user.isAnonymous, true);
      assert.equal(user.claims.role, "authenticated");
    });

    await t.step("valid RS256 via the JWKS", async () => {
      const c = claims();
      assert.equal((await verifier.verify(await signAsym(rs, "RS256", c))).account, c.sub);
    });

    await t.step("the JWKS is cached, not fetched per token", async () => {
      const before = jwks.hits();
      for (let i = 0; i < 3; i++) await verifier.verify(await signAsym(es, "ES256", claims()));
      assert.equal(jwks.hits(), before);
    });

    await t.step("valid HS256 with the current secret", async () => {
      const c = claims();
      const user = await verifier.verify(await signHs(SECRET, c));
      assert.equal(user.account, c.sub);
      assert.equal(user.isAnonymous, false);
    });

    await t.step("valid HS256 with the rotated secret (JWT_SECRET_NEXT)", async () => {
      const c = claims();
      assert.equal((await verifier.verify(await signHs(NEXT, c))).account, c.sub);
    });

    await t.step("tolerates 10 s of clock skew", async () => {
      const c = claims({ exp: now - 5, nbf: now + 5 });
      await verifier.verify(await signHs(SECRET, c));
    });

    const refusals: [string, () => Promise<string>, string][] = [
      ["expired", () => signHs(SECRET, claims({ exp: now - 60 })), "token_expired"],
      ["expired (ES256)", () => signAsym(es, "ES256", claims({ exp: now - 60 })), "token_expired"],
      [
        "nbf in the future",
        () => signHs(SECRET, claims({ nbf: now + 120 })),
        "token_not_yet_valid",
      ],
      ["wrong aud", () => signHs(SECRET, claims({ aud: "anon" })), "bad_audience"],
      ["no aud", () => signHs(SECRET, claims({ aud: undefined })), "bad_audience"],
      [
        "wrong iss",
        () => signHs(SECRET, claims({ iss: "https://evil.example/auth/v1" })),
        "bad_issuer",
      ],
      ["wrong iss (ES256)", () => signAsym(es, "ES256", claims({ iss: "supabase" })), "bad_issuer"],
      ["no exp", () => signHs(SECRET, claims({ exp: undefined })), "missing_exp"],
      [
        "unknown HS256 secret",
        () => signHs("another-secret-another-secret-another", claims()),
        "bad_signature",
      ],
      [
        "alg none",
        () => Promise.resolve(`${b64url({ alg: "none", typ: "JWT" })}.${b64url(claims())}.`),
        "unsupported_algorithm",
      ],
      [
        "alg none with a signature part",
        () => Promise.resolve(`${b64url({ alg: "none" })}.${b64url(claims())}.c2ln`),
        "unsupported_algorithm",
      ],
      [
        "HS256 signed with the public key",
        () => signHs(enc(JSON.stringify(es.publicJwk)), claims()),
        "bad_signature",
      ],
      [
        "HS512 (not on the allow-list)",
        () =>
          new SignJWT(claims()).setProtectedHeader({ alg: "HS512" }).sign(enc(SECRET.repeat(2))),
        "unsupported_algorithm",
      ],
      [
        "ES256 with an unknown kid",
        () => signAsym(es, "ES256", claims(), "not-a-known-kid"),
        "unknown_key",
      ],
      [
        "ES256 signed by a key the JWKS does not publish",
        async () => signAsym(await keyPair("ES256"), "ES256", claims(), es.kid),
        "bad_signature",
      ],
      ["missing sub", () => signHs(SECRET, claims({ sub: undefined })), "missing_sub"],
      ["sub not a uuid", () => signHs(SECRET, claims({ sub: "admin" })), "invalid_sub"],
      [
        "service_role token",
        () => signHs(SECRET, claims({ role: "service_role", sub: undefined })),
        "service_role_not_allowed",
      ],
      [
        "Supabase service key (iss supabase, no aud)",
        () => signHs(SECRET, { iss: "supabase", role: "service_role", iat: now, exp: now + 3600 }),
        "service_role_not_allowed",
      ],
      ["garbage", () => Promise.resolve("not-a-jwt"), "malformed"],
      ["garbage with dots", () => Promise.resolve("a.b.c"), "malformed"],
      [
        "non-JSON header",
        () => Promise.resolve(`${btoa("hello")}.${b64url(claims())}.sig`),
        "malformed",
      ],
      ["empty", () => Promise.resolve(""), "missing_token"],
    ];
    for (const [name, make, expected] of refusals) {
      await t.step(`refused: ${name} → ${expected}`, async () => {
        assert.equal(await reason(verifier, await make()), expected);
      });
    }

    await t.step("the expiry tolerance is bounded (40 s late is refused)", async () => {
      assert.equal(
        await reason(verifier, await signHs(SECRET, claims({ exp: now - 40 }))),
        "token_expired",
      );
    });

    await t.step("a new key is picked up by refetching on an unknown kid", async () => {
      const fresh = createVerifier({
        supabaseUrl: SUPABASE_URL,
        secrets: [],
        jwksUrl: jwks.url,
        jwksCooldownMs: 0,
      });
      await fresh.verify(await signAsym(es, "ES256", claims()));
      const rotated = await keyPair("ES256");
      published = [rotated.publicJwk];
      const c = claims();
      assert.equal((await fresh.verify(await signAsym(rotated, "ES256", c))).account, c.sub);
      published = [es.publicJwk, rs.publicJwk];
    });
  } finally {
    await jwks.close();
  }
});

Deno.test("without secrets HS256 is refused; without a JWKS URL ES256 is refused", async () => {
  const es = await keyPair("ES256");
  const jwksOnly = createVerifier({ supabaseUrl: SUPABASE_URL, secrets: [], jwksUrl: null });
  assert.equal(await reason(jwksOnly, await signHs(SECRET, claims())), "unsupported_algorithm");
  assert.equal(
    await reason(jwksOnly, await signAsym(es, "ES256", claims())),
    "unsupported_algorithm",
  );
});

Deno.test("an unreachable JWKS is a 503, not a 401", async () => {
  const es = await keyPair("ES256");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const v = createVerifier({
    supabaseUrl: SUPABASE_URL,
    jwksUrl: `http://127.0.0.1:${port}/jwks.json`,
    jwksTimeoutMs: 1000,
  });
  const token = await signAsym(es, "ES256", claims());
  await assert.rejects(
    () => v.verify(token),
    (err: unknown) => err instanceof ApiError && err.code === "SERVICE_UNAVAILABLE",
  );
});

import assert from "node:assert/strict";
import { decodeProtectedHeader, exportPKCS8, generateKeyPair, jwtVerify } from "jose";
import {
  appStoreCredentials,
  isUsableAppStoreKey,
  mintAppStoreJwt,
  normalizePem,
} from "../../../functions/admin/appstore/jwt.ts";
import { adminConfig } from "./helpers.ts";

async function keyPair() {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  return { pem: await exportPKCS8(privateKey), publicKey };
}

Deno.test("mints the App Store Server API JWT Apple specifies", async () => {
  const { pem, publicKey } = await keyPair();
  const minted = await mintAppStoreJwt(
    { issuerId: "57246542-96fe-1a63-e053-0824d011072a", keyId: "2X9R4HXF34", privateKey: pem },
    { bundleId: "com.example.app", nowSeconds: Math.floor(Date.now() / 1000) },
  );
  assert.deepEqual(decodeProtectedHeader(minted.token), {
    alg: "ES256",
    kid: "2X9R4HXF34",
    typ: "JWT",
  });
  const { payload } = await jwtVerify(minted.token, publicKey, { audience: "appstoreconnect-v1" });
  assert.equal(payload.iss, "57246542-96fe-1a63-e053-0824d011072a");
  assert.equal(payload.bid, "com.example.app");
  assert.equal((payload.exp as number) - (payload.iat as number), 300);
  assert.deepEqual(minted.claims, payload);
  assert.deepEqual(minted.header, { alg: "ES256", kid: "2X9R4HXF34", typ: "JWT" });
});

Deno.test("the key may arrive with escaped newlines or as a bare base64 body", async () => {
  const { pem } = await keyPair();
  const escaped = pem.trim().replaceAll("\n", "\\n");
  assert.equal(normalizePem(escaped), pem.trim());
  const body = pem.split("\n").filter((l) => l && !l.startsWith("-----")).join("");
  assert.equal(await isUsableAppStoreKey(body), true);
  assert.equal(await isUsableAppStoreKey(escaped), true);
});

Deno.test("a key that is not P-256 PKCS#8 is reported unusable, not thrown", async () => {
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  assert.equal(await isUsableAppStoreKey(await exportPKCS8(privateKey)), false);
  assert.equal(await isUsableAppStoreKey("not a key at all"), false);
});

Deno.test("missing credentials are named", () => {
  assert.deepEqual(appStoreCredentials(adminConfig()).missing, [
    "APPSTORE_ISSUER_ID",
    "APPSTORE_KEY_ID",
    "APPSTORE_PRIVATE_KEY",
  ]);
  const { credentials, missing } = appStoreCredentials(
    adminConfig({ APPSTORE_ISSUER_ID: "i", APPSTORE_KEY_ID: "k", APPSTORE_PRIVATE_KEY: "p" }),
  );
  assert.deepEqual(missing, []);
  assert.deepEqual(credentials, { issuerId: "i", keyId: "k", privateKey: "p" });
});

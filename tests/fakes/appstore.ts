/**
 * A fake App Store Server API for tests and the local stack (GET /admin/diag/appstore/ping).
 *
 *   const fake = await startFakeAppStore({ publicKey, issuerId, keyId, bundleId });
 *   // APPSTORE_API_BASE_URL = fake.url
 *   deno run -A tests/fakes/appstore.ts --port 54339      (accepts any well-formed ES256 JWT)
 *
 * Mountable inside another test server too: `handleAppStoreRequest(req, options)` answers paths
 * under `options.pathPrefix` (e.g. "/appstore" next to the fake OpenAI upstream).
 *
 * Route: GET /inApps/v1/transactions/{transactionId} ("Get Transaction Info"). Authentication
 * is checked as Apple does: `Authorization: Bearer <JWT>` with header alg ES256, typ JWT and a
 * kid; claims aud "appstoreconnect-v1", iss, iat, exp (in the future, at most 60 min after iat)
 * and bid. With `publicKey` the signature is verified, and iss/kid/bid are compared with the
 * configured values when given. Any failure → 401 with an empty body (like Apple).
 * Authenticated: transaction ids in `transactions` → 200 {signedTransactionInfo}; others →
 * 404 {errorCode: 4040010, errorMessage: "Transaction id not found."}. Other paths → 404.
 */
import { decodeProtectedHeader, jwtVerify } from "jose";

export interface FakeAppStoreOptions {
  port?: number;
  hostname?: string;
  /** Verifies signatures when set (the public half of APPSTORE_PRIVATE_KEY). */
  publicKey?: CryptoKey;
  issuerId?: string;
  keyId?: string;
  bundleId?: string;
  /** Known transaction ids (answered 200). */
  transactions?: string[];
  /** Paths are served under this prefix (default ""). */
  pathPrefix?: string;
}

export interface RecordedAppStoreRequest {
  method: string;
  path: string;
  authenticated: boolean;
  /** Why authentication failed (for test assertions), when it did. */
  failure?: string;
}

export interface FakeAppStore {
  url: string;
  requests(): RecordedAppStoreRequest[];
  close(): Promise<void>;
}

const TRANSACTION_PATH = /^\/inApps\/v1\/transactions\/([^/]+)$/;

/** Why the request's JWT is not acceptable, or null when it is. */
async function authFailure(req: Request, options: FakeAppStoreOptions): Promise<string | null> {
  const m = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(req.headers.get("authorization") ?? "");
  if (!m) return "no bearer token";
  const token = m[1];
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return "malformed token";
  }
  if (header.alg !== "ES256") return "alg is not ES256";
  if (header.typ !== "JWT") return "typ is not JWT";
  if (!header.kid) return "no kid";
  if (options.keyId && header.kid !== options.keyId) return "unknown kid";
  let claims: Record<string, unknown>;
  try {
    if (options.publicKey) {
      claims = (await jwtVerify(token, options.publicKey, {
        algorithms: ["ES256"],
        audience: "appstoreconnect-v1",
      })).payload;
    } else {
      claims = JSON.parse(
        new TextDecoder().decode(
          Uint8Array.from(
            atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")),
            (ch) => ch.charCodeAt(0),
          ),
        ),
      );
      if (claims.aud !== "appstoreconnect-v1") return "bad audience";
    }
  } catch {
    return "bad signature or claims";
  }
  const now = Math.floor(Date.now() / 1000);
  const iat = claims.iat, exp = claims.exp;
  if (typeof iat !== "number" || typeof exp !== "number") return "iat/exp missing";
  if (exp <= now) return "expired";
  if (exp - iat > 3600) return "lifetime over 60 minutes";
  if (typeof claims.iss !== "string" || !claims.iss) return "no iss";
  if (options.issuerId && claims.iss !== options.issuerId) return "unknown iss";
  if (typeof claims.bid !== "string" || !claims.bid) return "no bid";
  if (options.bundleId && claims.bid !== options.bundleId) return "unknown bid";
  return null;
}

const recorded = new WeakMap<FakeAppStoreOptions, RecordedAppStoreRequest[]>();

/** Answers one request (paths under options.pathPrefix). */
export async function handleAppStoreRequest(
  req: Request,
  options: FakeAppStoreOptions = {},
): Promise<Response> {
  const url = new URL(req.url);
  const prefix = options.pathPrefix ?? "";
  const path = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : url.pathname;
  const log = recorded.get(options);
  const match = req.method === "GET" ? TRANSACTION_PATH.exec(path) : null;
  if (!match) {
    log?.push({ method: req.method, path, authenticated: false, failure: "no such route" });
    return new Response(null, { status: 404 });
  }
  const failure = await authFailure(req, options);
  log?.push({
    method: req.method,
    path,
    authenticated: failure === null,
    failure: failure ?? undefined,
  });
  if (failure) return new Response(null, { status: 401 });
  const id = decodeURIComponent(match[1]);
  if (options.transactions?.includes(id)) {
    return Response.json({ signedTransactionInfo: `fake.${id}.jws` });
  }
  return Response.json(
    { errorCode: 4040010, errorMessage: "Transaction id not found." },
    { status: 404 },
  );
}

export function startFakeAppStore(options: FakeAppStoreOptions = {}): Promise<FakeAppStore> {
  const log: RecordedAppStoreRequest[] = [];
  recorded.set(options, log);
  const closing = new AbortController();
  const server = Deno.serve({
    port: options.port ?? 0,
    hostname: options.hostname ?? "127.0.0.1",
    signal: closing.signal,
    onListen() {},
  }, (req) => handleAppStoreRequest(req, options));
  return Promise.resolve({
    url: `http://127.0.0.1:${server.addr.port}${options.pathPrefix ?? ""}`,
    requests: () => log.slice(),
    close: async () => {
      closing.abort();
      await server.finished;
    },
  });
}

if (import.meta.main) {
  const portFlag = Deno.args.indexOf("--port");
  const fake = await startFakeAppStore({
    port: portFlag >= 0 ? Number(Deno.args[portFlag + 1]) : 0,
  });
  console.log(`fake App Store Server API listening on ${fake.url}`);
}

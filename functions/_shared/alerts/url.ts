/**
 * Webhook URL validation (ERROR_ALERT_WEBHOOK / SECURITY_ALERT_WEBHOOK): alerts may only go to
 * a public HTTPS endpoint, never into the network the function runs in.
 *
 * Refused: anything but https; credentials in the URL; local-only names (localhost and
 * *.localhost, *.local, *.internal, *.home.arpa, single-label names such as `metadata`); and
 * any host whose address — as written in any notation (2130706433, 0x7f000001, 0177.1,
 * [::ffff:127.0.0.1], [::1], …) or as resolved through DNS (every A and AAAA record) — is
 * loopback, private, link-local/cloud-metadata, CGNAT, multicast, reserved or otherwise not
 * global unicast. A name that does not resolve is refused too (fail closed).
 * The one exception: with ENVIRONMENT=development, http(s)://127.0.0.1[:port] is allowed so the
 * tests can run a local receiver.
 *
 * Residual risk (documented in the README): the address is checked when the dispatcher runs,
 * and fetch resolves the name again; a DNS answer that changes in between (rebinding) is not
 * caught. The URLs are operator secrets, not user input, so this guards against mistakes and a
 * tampered configuration rather than an attacker who controls the request. Redirects are never
 * followed (see deliver.ts), so a public endpoint cannot bounce the request inward.
 */
import { addressProblem } from "./ip.ts";

export class WebhookUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookUrlError";
  }
}

/** Resolves a host name to its addresses (A and AAAA). */
export type Resolver = (hostname: string) => Promise<string[]>;

export interface WebhookUrlOptions {
  /** ENVIRONMENT: only "development" allows http://127.0.0.1. */
  environment: "development" | "production";
  /** DNS resolution (default: Deno.resolveDns for A and AAAA). */
  resolve?: Resolver;
}

const DEV_LOOPBACK = /^https?:\/\/127\.0\.0\.1(:\d{1,5})?(\/|\?|#|$)/i;
const LOCAL_SUFFIXES = [".localhost", ".local", ".internal", ".home.arpa", ".localdomain", ".lan"];

/** Deno's resolver: every A and AAAA record; a name with neither is an empty list. */
export const dnsResolve: Resolver = async (hostname) => {
  const lookups = await Promise.allSettled([
    Deno.resolveDns(hostname, "A"),
    Deno.resolveDns(hostname, "AAAA"),
  ]);
  return lookups.flatMap((r) => (r.status === "fulfilled" ? r.value : []));
};

/**
 * Returns the parsed URL when it is an acceptable webhook target; throws WebhookUrlError
 * saying why not (the message names the problem, never a secret such as a query token).
 */
export async function validateWebhookUrl(raw: string, options: WebhookUrlOptions): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookUrlError("not a valid URL");
  }
  // WHATWG URL parsing already turns 2130706433, 0x7f000001, 0177.0.0.1 into 127.0.0.1 and
  // [::ffff:127.0.0.1] into [::ffff:7f00:1]; addressProblem() parses every notation anyway.
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  // Written literally as 127.0.0.1 (not 2130706433, localhost, ...), and only in development.
  if (options.environment === "development" && DEV_LOOPBACK.test(raw.trim())) return url;
  if (url.protocol !== "https:") throw new WebhookUrlError("must use https");
  if (url.username || url.password) throw new WebhookUrlError("must not contain credentials");
  if (host === "") throw new WebhookUrlError("has no host");

  const literal = addressProblem(host);
  if (literal !== undefined) {
    if (literal !== null) throw new WebhookUrlError(`points to a non-public address (${literal})`);
    return url;
  }
  if (host === "localhost" || LOCAL_SUFFIXES.some((s) => host.endsWith(s))) {
    throw new WebhookUrlError("points to a local-only host name");
  }
  if (!host.includes(".")) {
    throw new WebhookUrlError("must be a fully qualified host name");
  }

  let addresses: string[];
  try {
    addresses = await (options.resolve ?? dnsResolve)(host);
  } catch {
    throw new WebhookUrlError("host name does not resolve");
  }
  if (addresses.length === 0) throw new WebhookUrlError("host name does not resolve");
  for (const address of addresses) {
    const problem = addressProblem(address);
    if (problem === undefined) {
      throw new WebhookUrlError("host name resolves to an unparseable address");
    }
    if (problem !== null) {
      throw new WebhookUrlError(`host name resolves to a non-public address (${problem})`);
    }
  }
  return url;
}

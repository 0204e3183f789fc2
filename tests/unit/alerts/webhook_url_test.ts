/** Webhook URL validation: the SSRF table, in every notation, and what is allowed. */
import assert from "node:assert/strict";
import {
  type Resolver,
  validateWebhookUrl,
  WebhookUrlError,
  type WebhookUrlOptions,
} from "../../../functions/_shared/alerts/url.ts";

/** A fake DNS: names map to addresses; anything else does not resolve. */
function fakeDns(table: Record<string, string[]>): Resolver {
  return (host) => {
    const answer = table[host];
    return answer ? Promise.resolve(answer) : Promise.reject(new Error("NXDOMAIN"));
  };
}

const dns = fakeDns({
  "hooks.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
  "intranet.example.com": ["10.0.0.5"],
  "mixed.example.com": ["93.184.216.34", "192.168.1.10"],
  "v6-private.example.com": ["fd00::1"],
  "mapped.example.com": ["::ffff:127.0.0.1"],
  "empty.example.com": [],
});

const production: WebhookUrlOptions = { environment: "production", resolve: dns };
const development: WebhookUrlOptions = { environment: "development", resolve: dns };

async function refused(url: string, options: WebhookUrlOptions = production): Promise<string> {
  const error = await validateWebhookUrl(url, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof WebhookUrlError, `${url} must be refused`);
  return error.message;
}

Deno.test("the SSRF table: every private, loopback, link-local and metadata target is refused", async () => {
  const table = [
    "https://127.0.0.1/hook",
    "https://10.0.0.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hook",
    "https://2130706433/hook", // 127.0.0.1 as one decimal number
    "https://0x7f000001/hook", // ... as hex
    "https://[::ffff:127.0.0.1]/hook", // IPv4-mapped IPv6
    "https://localhost/hook", // a name resolving to loopback
    "https://intranet.example.com/hook", // a name resolving to a private address
  ];
  for (const url of table) await refused(url);
});

Deno.test("more notations of the same addresses are refused", async () => {
  for (
    const url of [
      "https://0177.0.0.1/", // octal
      "https://127.1/", // short form
      "https://0x7f.0.0.1/",
      "https://017700000001/",
      "https://[0:0:0:0:0:ffff:7f00:1]/",
      "https://[::ffff:7f00:1]/",
      "https://[::127.0.0.1]/", // IPv4-compatible
      "https://[64:ff9b::7f00:1]/", // NAT64 of 127.0.0.1
      "https://[2002:7f00:1::]/", // 6to4 of 127.0.0.1
      "https://[fd00:ec2::254]/", // AWS IPv6 metadata (unique local)
      "https://[fe80::1]/",
      "https://[::]/",
      "https://0.0.0.0/",
      "https://100.100.100.200/", // Alibaba metadata (CGNAT range)
      "https://172.16.0.1/",
      "https://192.168.0.1/",
      "https://224.0.0.1/",
      "https://255.255.255.255/",
      "https://LOCALHOST./",
      "https://app.localhost/",
      "https://metadata.google.internal/",
      "https://metadata/",
      "https://printer.local/",
      "https://mixed.example.com/", // one private address among public ones
      "https://v6-private.example.com/",
      "https://mapped.example.com/",
      "https://empty.example.com/", // resolves to nothing
      "https://nxdomain.example.com/", // does not resolve
    ]
  ) {
    await refused(url);
  }
});

Deno.test("only https, and no credentials in the URL", async () => {
  assert.match(await refused("http://hooks.example.com/x"), /https/);
  assert.match(await refused("ftp://hooks.example.com/x"), /https/);
  assert.match(await refused("https://user:pw@hooks.example.com/x"), /credentials/);
  assert.match(await refused("not a url"), /valid URL/);
});

Deno.test("a public https endpoint is allowed (every resolved address public)", async () => {
  const url = await validateWebhookUrl("https://hooks.example.com/services/T000/B000", production);
  assert.equal(url.hostname, "hooks.example.com");
  assert.equal(
    (await validateWebhookUrl("https://93.184.216.34/hook", production)).hostname,
    "93.184.216.34",
  );
  assert.ok(await validateWebhookUrl("https://[2606:2800:220:1:248:1893:25c8:1946]/", production));
});

Deno.test("http://127.0.0.1 is allowed in development only, and nothing else private is", async () => {
  assert.equal((await validateWebhookUrl("http://127.0.0.1:8080/hook", development)).port, "8080");
  await refused("http://127.0.0.1:8080/hook", production);
  for (
    const url of [
      "http://10.0.0.1/",
      "https://10.0.0.1/",
      "http://localhost:8080/",
      "https://169.254.169.254/",
      "http://2130706433/",
    ]
  ) {
    await refused(url, development);
  }
});

Deno.test("refusal messages name the problem, not the URL's secrets", async () => {
  const message = await refused("https://10.0.0.1/services/SECRET-TOKEN-123");
  assert.doesNotMatch(message, /SECRET-TOKEN/);
  assert.match(message, /private/);
});

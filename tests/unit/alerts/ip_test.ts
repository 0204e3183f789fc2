/** IP parsing and classification behind the webhook checks. */
import assert from "node:assert/strict";
import { addressProblem, parseIpv4, parseIpv6 } from "../../../functions/_shared/alerts/ip.ts";

Deno.test("IPv4 in every inet_aton notation", () => {
  for (
    const text of [
      "127.0.0.1",
      "2130706433",
      "0x7f000001",
      "0177.0.0.1",
      "127.1",
      "0x7f.0.0.1",
      "127.0.1",
      "017700000001",
    ]
  ) {
    assert.deepEqual(parseIpv4(text), [127, 0, 0, 1], text);
  }
  for (
    const text of [
      "256.0.0.1",
      "1.2.3.4.5",
      "example.com",
      "",
      "1..2",
      "0x1g",
      "09.1.1.1",
      "4294967296",
    ]
  ) {
    assert.equal(parseIpv4(text), null, text);
  }
});

Deno.test("IPv6 with compression, brackets and an IPv4 tail; zone ids refused", () => {
  assert.deepEqual(parseIpv6("::1"), [0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(parseIpv6("[::ffff:127.0.0.1]"), [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]);
  assert.deepEqual(parseIpv6("2001:db8::8:1"), [0x2001, 0xdb8, 0, 0, 0, 0, 8, 1]);
  assert.deepEqual(parseIpv6("1:2:3:4:5:6:7:8"), [1, 2, 3, 4, 5, 6, 7, 8]);
  for (
    const text of [
      "fe80::1%eth0",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "12345::",
      "::ffff:999.0.0.1",
      "127.0.0.1",
    ]
  ) {
    assert.equal(parseIpv6(text), null, text);
  }
});

Deno.test("classification: public addresses pass, everything special says why", () => {
  assert.equal(addressProblem("93.184.216.34"), null);
  assert.equal(addressProblem("8.8.8.8"), null);
  assert.equal(addressProblem("2606:4700::1111"), null);
  assert.equal(addressProblem("example.com"), undefined);
  const cases: [string, RegExp][] = [
    ["127.0.0.1", /loopback/],
    ["10.1.2.3", /private/],
    ["169.254.169.254", /metadata/],
    ["100.64.0.1", /carrier/],
    ["::1", /loopback/],
    ["::ffff:10.0.0.1", /IPv4-mapped private/],
    ["64:ff9b::a9fe:a9fe", /NAT64 link-local/],
    ["2002:c0a8:0101::1", /6to4 private/],
    ["fc00::1", /unique local/],
    ["ff02::1", /multicast/],
    ["2001:db8::1", /documentation/],
    ["2001:0:4136:e378::1", /Teredo/],
    ["3fff::1", null as unknown as RegExp],
  ];
  for (const [text, why] of cases) {
    const problem = addressProblem(text);
    if (why === null) assert.equal(problem, null, text);
    else assert.match(String(problem), why, text);
  }
  // IPv4-mapped public addresses are public
  assert.equal(addressProblem("::ffff:93.184.216.34"), null);
});

/**
 * IP address parsing and classification for webhook SSRF checks.
 *
 * Every notation an attacker can smuggle a private address through is parsed to the same
 * numbers: dotted quads with decimal/octal/hex parts and fewer than four parts ("127.1",
 * "0x7f.1", "2130706433", "0x7f000001", "017700000001"), bracketed IPv6, zero-compressed
 * IPv6 with an embedded IPv4 tail, IPv4-mapped/-compatible IPv6, NAT64 and 6to4 prefixes that
 * embed an IPv4 address. Only globally routable unicast addresses are "public".
 */

/** Four octets. */
export type Ipv4 = [number, number, number, number];
/** Eight 16-bit groups. */
export type Ipv6 = [number, number, number, number, number, number, number, number];

/**
 * IPv4 in any inet_aton notation: 1–4 parts, each decimal, octal (leading 0) or hex (0x);
 * the last part fills the remaining bytes. Returns null for anything else.
 */
export function parseIpv4(text: string): Ipv4 | null {
  const parts = text.split(".");
  if (parts.length < 1 || parts.length > 4) return null;
  const values: number[] = [];
  for (const part of parts) {
    const value = parseIpv4Part(part);
    if (value === null) return null;
    values.push(value);
  }
  const last = values.pop() as number;
  if (values.some((v) => v > 255)) return null;
  const lastBytes = 4 - values.length;
  if (last >= 2 ** (8 * lastBytes)) return null;
  const out = [...values];
  for (let i = lastBytes - 1; i >= 0; i--) out.push(Math.floor(last / 2 ** (8 * i)) % 256);
  return out as Ipv4;
}

function parseIpv4Part(part: string): number | null {
  let digits = part;
  let radix = 10;
  if (/^0x/i.test(part)) {
    digits = part.slice(2);
    radix = 16;
    if (digits === "") return 0; // "0x" alone is 0 for inet_aton
  } else if (part.length > 1 && part.startsWith("0")) {
    digits = part.slice(1);
    radix = 8;
  }
  const pattern = radix === 16 ? /^[0-9a-f]+$/i : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!pattern.test(digits)) return null;
  const value = parseInt(digits, radix);
  return Number.isSafeInteger(value) && value <= 0xffffffff ? value : null;
}

/** IPv6 (optionally in brackets, optionally with an IPv4 tail); zone ids are refused. */
export function parseIpv6(text: string): Ipv6 | null {
  let value = text;
  if (value.startsWith("[") && value.endsWith("]")) value = value.slice(1, -1);
  if (value.includes("%") || !value.includes(":")) return null;
  const halves = value.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] === "" ? [] : halves[0].split(":");
  const tail = halves.length === 2 ? (halves[1] === "" ? [] : halves[1].split(":")) : [];
  const groups: number[] = [];
  const pushGroups = (list: string[], allowV4Tail: boolean): boolean => {
    for (let i = 0; i < list.length; i++) {
      const g = list[i];
      if (allowV4Tail && i === list.length - 1 && g.includes(".")) {
        if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(g)) return false;
        const v4 = g.split(".").map(Number);
        if (v4.some((o) => o > 255)) return false;
        groups.push(v4[0] * 256 + v4[1], v4[2] * 256 + v4[3]);
        continue;
      }
      if (!/^[0-9a-f]{1,4}$/i.test(g)) return false;
      groups.push(parseInt(g, 16));
    }
    return true;
  };
  if (!pushGroups(head, halves.length === 1)) return null;
  const headCount = groups.length;
  if (!pushGroups(tail, true)) return null;
  if (halves.length === 1) return groups.length === 8 ? (groups as Ipv6) : null;
  const missing = 8 - groups.length;
  if (missing < 1) return null;
  const tailGroups = groups.splice(headCount);
  return [...groups, ...new Array(missing).fill(0), ...tailGroups] as Ipv6;
}

const inV4 = (ip: Ipv4, base: Ipv4, bits: number): boolean => {
  const a = ((ip[0] << 24) | (ip[1] << 16) | (ip[2] << 8) | ip[3]) >>> 0;
  const b = ((base[0] << 24) | (base[1] << 16) | (base[2] << 8) | base[3]) >>> 0;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (a & mask) === (b & mask);
};

/** Non-public IPv4 ranges (RFC 6890 special-purpose registry and friends). */
const V4_BLOCKED: [Ipv4, number, string][] = [
  [[0, 0, 0, 0], 8, "this network"],
  [[10, 0, 0, 0], 8, "private"],
  [[100, 64, 0, 0], 10, "carrier-grade NAT"],
  [[127, 0, 0, 0], 8, "loopback"],
  [[169, 254, 0, 0], 16, "link-local / cloud metadata"],
  [[172, 16, 0, 0], 12, "private"],
  [[192, 0, 0, 0], 24, "IETF protocol assignments"],
  [[192, 0, 2, 0], 24, "documentation"],
  [[192, 88, 99, 0], 24, "6to4 relay"],
  [[192, 168, 0, 0], 16, "private"],
  [[198, 18, 0, 0], 15, "benchmarking"],
  [[198, 51, 100, 0], 24, "documentation"],
  [[203, 0, 113, 0], 24, "documentation"],
  [[224, 0, 0, 0], 4, "multicast"],
  [[240, 0, 0, 0], 4, "reserved / broadcast"],
];

/** Why an IPv4 address is not public, or null when it is. */
export function ipv4Problem(ip: Ipv4): string | null {
  for (const [base, bits, why] of V4_BLOCKED) if (inV4(ip, base, bits)) return why;
  return null;
}

const v4Of = (hi: number, lo: number): Ipv4 => [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff];

/** Why an IPv6 address is not public, or null when it is (embedded IPv4 is checked too). */
export function ipv6Problem(ip: Ipv6): string | null {
  const zeros = (n: number) => ip.slice(0, n).every((g) => g === 0);
  if (zeros(8)) return "unspecified";
  if (zeros(7) && ip[7] === 1) return "loopback";
  if (zeros(5) && ip[5] === 0xffff) return withV4("IPv4-mapped", v4Of(ip[6], ip[7]));
  if (zeros(6)) return withV4("IPv4-compatible", v4Of(ip[6], ip[7]));
  if (ip[0] === 0x64 && ip[1] === 0xff9b && ip.slice(2, 6).every((g) => g === 0)) {
    return withV4("NAT64", v4Of(ip[6], ip[7]));
  }
  if (ip[0] === 0x64 && ip[1] === 0xff9b && ip[2] === 1) return "local-use NAT64";
  if (ip[0] === 0x2002) return withV4("6to4", v4Of(ip[1], ip[2]));
  if (ip[0] === 0x2001 && ip[1] === 0) return "Teredo";
  if (ip[0] === 0x2001 && ip[1] === 0xdb8) return "documentation";
  if (ip[0] === 0x100 && ip[1] === 0 && ip[2] === 0 && ip[3] === 0) return "discard";
  if ((ip[0] & 0xfe00) === 0xfc00) return "unique local (private)";
  if ((ip[0] & 0xffc0) === 0xfe80) return "link-local";
  if ((ip[0] & 0xffc0) === 0xfec0) return "site-local";
  if ((ip[0] & 0xff00) === 0xff00) return "multicast";
  if ((ip[0] & 0xe000) !== 0x2000) return "not global unicast";
  return null;
}

function withV4(kind: string, v4: Ipv4): string | null {
  const inner = ipv4Problem(v4);
  return inner ? `${kind} ${inner}` : null;
}

/**
 * Why an address literal (any IPv4 notation, IPv6 with or without brackets) is not public;
 * null when it is public; undefined when the text is not an IP address at all.
 */
export function addressProblem(text: string): string | null | undefined {
  const v6 = parseIpv6(text);
  if (v6) return ipv6Problem(v6);
  const v4 = parseIpv4(text);
  if (v4) return ipv4Problem(v4);
  return undefined;
}

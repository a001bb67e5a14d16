// IP address and prefix text, parsed into 32-bit words without regular expressions, and printed back in one
// canonical form (dotted quad; RFC 5952 for IPv6, with IPv4-mapped addresses as ::ffff:a.b.c.d like Go's netip).

/** 4 or 6 for a valid address, 0 for text that is not one. */
export type IpFamily = 0 | 4 | 6;

/**
 * Parses `text` into `out` (network order: IPv4 in out[0], IPv6 in out[0..3]) and returns its family, or 0 when
 * `text` is not an address. Allocates nothing for IPv4, so lookups can call it per flow. Rejects zones ("%eth0")
 * and IPv4 octets with leading zeros, which some tools read as octal.
 */
export function parseIpInto(text: string, out: Uint32Array): IpFamily {
  if (text.length === 0 || text.length > 45) return 0;
  if (text.indexOf(':') < 0) {
    const v = parseIpv4(text, 0, text.length);
    if (v < 0) return 0;
    out[0] = v;
    return 4;
  }
  return parseIpv6(text, out) ? 6 : 0;
}

/** IPv4 dotted quad in text[start, end) as an unsigned 32-bit number, or -1. */
function parseIpv4(text: string, start: number, end: number): number {
  let value = 0;
  let octets = 0;
  let i = start;
  while (i < end) {
    let octet = 0;
    let digits = 0;
    const first = i;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      octet = octet * 10 + (c - 48);
      digits++;
      i++;
    }
    if (digits === 0 || digits > 3 || octet > 255) return -1;
    if (digits > 1 && text.charCodeAt(first) === 48) return -1;
    value = value * 256 + octet;
    octets++;
    if (i === end) break;
    if (text.charCodeAt(i) !== 46 || octets === 4) return -1;
    i++;
    if (i === end) return -1;
  }
  return octets === 4 ? value : -1;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

const groups = new Uint16Array(8);

function parseIpv6(text: string, out: Uint32Array): boolean {
  const n = text.length;
  let count = 0;
  let gap = -1; // index in `groups` where "::" stands
  let i = 0;
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
    if (i === n) return fillIpv6(out, count, gap);
  }
  while (i < n) {
    // One group: up to 4 hex digits, or a trailing dotted IPv4 worth two groups.
    let value = 0;
    let digits = 0;
    const start = i;
    while (i < n) {
      const h = hexValue(text.charCodeAt(i));
      if (h < 0) break;
      value = value * 16 + h;
      digits++;
      i++;
    }
    if (i < n && text.charCodeAt(i) === 46) {
      if (count > 6) return false;
      const v4 = parseIpv4(text, start, n);
      if (v4 < 0) return false;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      i = n;
      break;
    }
    if (digits === 0 || digits > 4 || count === 8) return false;
    groups[count++] = value;
    if (i === n) break;
    if (text.charCodeAt(i) !== 58) return false;
    i++;
    if (text.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = count;
      i++;
      if (i === n) break;
    } else if (i === n) {
      return false;
    }
  }
  return fillIpv6(out, count, gap);
}

function fillIpv6(out: Uint32Array, count: number, gap: number): boolean {
  if (gap < 0 ? count !== 8 : count > 7) return false;
  const zeros = 8 - count;
  let g = 0;
  let w = 0;
  for (let k = 0; k < 8; k++) {
    let v: number;
    if (gap >= 0 && k >= gap && k < gap + zeros) v = 0;
    else v = groups[g++]!;
    if ((k & 1) === 0) w = v * 65536;
    else out[k >> 1] = w + v;
  }
  return true;
}

/** The canonical text of a parsed address. */
export function formatIp(family: 4 | 6, words: Uint32Array): string {
  if (family === 4) return formatIpv4(words[0]!);
  const w0 = words[0]!;
  const w1 = words[1]!;
  const w2 = words[2]!;
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return `::ffff:${formatIpv4(words[3]!)}`;
  const g: number[] = [];
  for (let k = 0; k < 4; k++) g.push(words[k]! >>> 16, words[k]! & 0xffff);
  // RFC 5952: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let k = 0; k < 8;) {
    if (g[k] !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && g[e] === 0) e++;
    if (e - k > bestLen) {
      bestStart = k;
      bestLen = e - k;
    }
    k = e;
  }
  if (bestStart < 0) return g.map((x) => x.toString(16)).join(':');
  const head = g
    .slice(0, bestStart)
    .map((x) => x.toString(16))
    .join(':');
  const tail = g
    .slice(bestStart + bestLen)
    .map((x) => x.toString(16))
    .join(':');
  return `${head}::${tail}`;
}

function formatIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

const scratch = new Uint32Array(4);

/** The canonical text of an address, or undefined when `text` is not one. */
export function canonicalIp(text: string): string | undefined {
  const family = parseIpInto(text, scratch);
  return family === 0 ? undefined : formatIp(family, scratch);
}

declare const validPrefix: unique symbol;

/** An address block whose host bits are zero: a CIDR, or one address as /32 or /128. */
export interface Prefix {
  readonly family: 4 | 6;
  /** Network order; one word for IPv4, four for IPv6. */
  readonly words: Uint32Array;
  readonly length: number;
  /** Canonical text, e.g. 10.0.0.0/8 or fd00::15/128. */
  readonly text: string;
  readonly [validPrefix]: true;
}

/**
 * Parses an address ("10.0.1.15", "fd00::15") or a CIDR ("10.0.0.0/8"). Returns a message instead of a Prefix
 * when the text is wrong, including a CIDR with host bits set (a likely typo: it says which two things were meant).
 */
export function parsePrefix(text: string): Prefix | { error: string } {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const words = new Uint32Array(4);
  const family = parseIpInto(addressText, words);
  if (family === 0) return { error: `"${text}" is not an IP address or CIDR` };
  const bits = family === 4 ? 32 : 128;
  let length = bits;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText) || Number(lenText) > bits) {
      return { error: `"${text}" has an invalid prefix length (0 to ${bits} for IPv${family})` };
    }
    length = Number(lenText);
  }
  const network = maskWords(family, words, length);
  for (let k = 0; k < (family === 4 ? 1 : 4); k++) {
    if (network[k] !== words[k]) {
      const net = `${formatIp(family, network)}/${length}`;
      const one = `${formatIp(family, words)}/${bits}`;
      return { error: `"${text}" has host bits set: write ${net} for the network or ${one} for the one address` };
    }
  }
  return { family, words: network, length, text: `${formatIp(family, network)}/${length}` } as Prefix;
}

/** `words` with everything after the first `length` bits cleared, written to `out` (a new array by default). */
export function maskWords(family: 4 | 6, words: Uint32Array, length: number, out = new Uint32Array(4)): Uint32Array {
  const count = family === 4 ? 1 : 4;
  for (let k = 0; k < count; k++) {
    const keep = Math.max(0, Math.min(32, length - 32 * k));
    out[k] = keep === 0 ? 0 : keep === 32 ? words[k]! : (words[k]! & (0xffffffff << (32 - keep))) >>> 0;
  }
  return out;
}

// IP addresses and prefixes read the way Go's net/netip reads them (what upstream's filters use),
// into reusable byte buffers so that checking a flow's address against a CIDR allocates nothing.

const DOT = 0x2e;
const COLON = 0x3a;
const PERCENT = 0x25;
const DASH = 0x2d;

/** An address parsed in place; reuse one per filter to avoid allocating per flow. */
export class ParsedAddr {
  /** 4 or 6 after a successful parse, 0 otherwise. */
  family: 0 | 4 | 6 = 0;
  /** IPv4 in bytes 0..3, IPv6 in bytes 0..15. */
  readonly bytes = new Uint8Array(16);
  /** An IPv6 zone ("fe80::1%eth0"); zoned addresses are never inside a prefix. */
  zoned = false;
}

/**
 * Parses s[start, end) as netip.ParseAddr does; returns undefined on success or the reason it is
 * not an address. With `dashAsColon`, '-' reads as ':' (Cilium writes IPv6 CIDR labels that way).
 */
export function parseAddrInto(
  s: string,
  out: ParsedAddr,
  start = 0,
  end = s.length,
  dashAsColon = false,
): string | undefined {
  out.family = 0;
  out.zoned = false;
  for (let i = start; i < end; i++) {
    let c = s.charCodeAt(i);
    if (dashAsColon && c === DASH) c = COLON;
    if (c === DOT) return parseIPv4(s, start, end, out.bytes, 0) ?? ((out.family = 4), undefined);
    if (c === COLON) return parseIPv6(s, start, end, out, dashAsColon);
    if (c === PERCENT) return 'missing IPv6 address before the zone';
  }
  return 'unable to parse IP';
}

function parseIPv4(s: string, start: number, end: number, into: Uint8Array, at: number): string | undefined {
  let value = 0;
  let digits = 0;
  let field = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && value === 0) return 'IPv4 field has octet with leading zero';
      value = value * 10 + (c - 0x30);
      digits++;
      if (value > 255) return 'IPv4 field has value >255';
    } else if (c === DOT) {
      if (i === start || i === end - 1 || s.charCodeAt(i - 1) === DOT) return 'IPv4 field must have at least one digit';
      if (field === 3) return 'IPv4 address too long';
      into[at + field++] = value;
      value = 0;
      digits = 0;
    } else {
      return 'unexpected character in IPv4 address';
    }
  }
  if (field < 3) return 'IPv4 address too short';
  into[at + 3] = value;
  return undefined;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

function codeAt(s: string, i: number, dashAsColon: boolean): number {
  const c = s.charCodeAt(i);
  return dashAsColon && c === DASH ? COLON : c;
}

function parseIPv6(s: string, start: number, end: number, out: ParsedAddr, dashAsColon: boolean): string | undefined {
  const zone = s.indexOf('%', start);
  if (zone !== -1 && zone < end) {
    if (zone === end - 1) return 'zone must be a non-empty string';
    out.zoned = true;
    end = zone;
  }
  const ip = out.bytes;
  ip.fill(0);
  let ellipsis = -1;
  let p = start;
  if (end - p >= 2 && codeAt(s, p, dashAsColon) === COLON && codeAt(s, p + 1, dashAsColon) === COLON) {
    ellipsis = 0;
    p += 2;
    if (p === end) {
      out.family = 6;
      return undefined;
    }
  }
  let i = 0;
  while (i < 16) {
    let off = 0;
    let acc = 0;
    for (; p + off < end; off++) {
      const h = hexValue(codeAt(s, p + off, dashAsColon));
      if (h < 0) break;
      acc = acc * 16 + h;
      if (off > 3) return 'each colon-separated field must have at most 4 hex digits';
    }
    if (off === 0) return 'each colon-separated field must have at least one digit';
    if (p + off < end && codeAt(s, p + off, dashAsColon) === DOT) {
      if (ellipsis < 0 && i !== 12) return 'embedded IPv4 address must replace the final 2 fields of the address';
      if (i + 4 > 16) return 'too many hex fields to fit an embedded IPv4 at the end of the address';
      const err = parseIPv4(s, p, end, ip, i);
      if (err !== undefined) return err;
      p = end;
      i += 4;
      break;
    }
    ip[i] = acc >> 8;
    ip[i + 1] = acc & 0xff;
    i += 2;
    p += off;
    if (p === end) break;
    if (codeAt(s, p, dashAsColon) !== COLON) return 'unexpected character, want colon';
    if (p + 1 === end) return 'colon must be followed by more characters';
    p++;
    if (codeAt(s, p, dashAsColon) === COLON) {
      if (ellipsis >= 0) return 'multiple :: in address';
      ellipsis = i;
      p++;
      if (p === end) break;
    }
  }
  if (p !== end) return 'trailing garbage after address';
  if (i < 16) {
    if (ellipsis < 0) return 'address string too short';
    const n = 16 - i;
    for (let j = i - 1; j >= ellipsis; j--) ip[j + n] = ip[j]!;
    ip.fill(0, ellipsis, ellipsis + n);
  } else if (ellipsis >= 0) {
    return 'the :: must expand to at least one field of zeros';
  }
  out.family = 6;
  return undefined;
}

/** A CIDR prefix as netip.ParsePrefix accepts it (host bits may be set; matching ignores them). */
export class Prefix {
  constructor(
    readonly family: 4 | 6,
    readonly bits: number,
    private readonly bytes: Uint8Array,
  ) {}

  /** netip.Prefix.Contains: same family, no zone, first `bits` bits equal. */
  contains(addr: ParsedAddr): boolean {
    if (addr.family !== this.family || addr.zoned) return false;
    const full = this.bits >> 3;
    const a = addr.bytes;
    for (let i = 0; i < full; i++) if (a[i] !== this.bytes[i]) return false;
    const rest = this.bits & 7;
    if (rest === 0) return true;
    const mask = (0xff << (8 - rest)) & 0xff;
    return ((a[full]! ^ this.bytes[full]!) & mask) === 0;
  }
}

/**
 * Parses s[start, end) as netip.ParsePrefix does, without allocating: the address lands in `addr`
 * and the prefix length is returned, or the reason it is not a prefix.
 */
export function parsePrefixInto(
  s: string,
  addr: ParsedAddr,
  start = 0,
  end = s.length,
  dashAsColon = false,
): number | string {
  const slash = s.lastIndexOf('/', end - 1);
  if (slash < start) return "no '/'";
  const err = parseAddrInto(s, addr, start, slash, dashAsColon);
  if (err !== undefined) return err;
  if (addr.zoned) return 'IPv6 zones cannot be present in a prefix';
  // Decimal without sign or leading zeros, as Go has required since 1.22.
  const first = slash + 1;
  if (first === end) return 'bad bits after slash: ""';
  let bits = 0;
  for (let i = first; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39 || (i === first && c === 0x30 && end - first > 1)) {
      return `bad bits after slash: ${JSON.stringify(s.slice(first, end))}`;
    }
    bits = bits * 10 + (c - 0x30);
    if (bits > 128) return 'prefix length out of range';
  }
  if (bits > (addr.family === 4 ? 32 : 128)) return 'prefix length out of range';
  return bits;
}

/** Parses a whole string as netip.ParsePrefix does; returns the prefix or the reason it is not one. */
export function parsePrefix(s: string, dashAsColon = false): Prefix | string {
  const addr = new ParsedAddr();
  const bits = parsePrefixInto(s, addr, 0, s.length, dashAsColon);
  if (typeof bits === 'string') return bits;
  return new Prefix(addr.family as 4 | 6, bits, addr.bytes.slice());
}

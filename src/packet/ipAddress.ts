// IP addresses as text and as bytes, both ways by Go's net/netip rules (upstream Hubble's filters and our users'
// input follow them): strict parsing into reusable buffers, printing as netip.Addr.String(), and prefixes (CIDRs)
// whose containment tests allocate nothing, so per-flow filters and lookups can use them.

// ---- Parsing, as netip.ParseAddr does ----

const DOT = 0x2e;
const COLON = 0x3a;
const PERCENT = 0x25;
const DASH = 0x2d;

/** An address parsed in place: each caller keeps one and reuses it, so parsing per flow allocates nothing. */
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

// ---- Prefixes ----

/**
 * A CIDR as netip.Prefix.Masked() holds it: the network address with its host bits cleared, and the prefix length.
 * parsePrefix builds one from text; the constructor from an address already parsed and a length for its family.
 */
export class Prefix {
  readonly family: 4 | 6;
  readonly bits: number;
  /** The network address: IPv4 in bytes 0..3, IPv6 in bytes 0..15; every bit after `bits` is zero. */
  readonly bytes = new Uint8Array(16);

  constructor(addr: ParsedAddr, bits: number) {
    if (addr.family === 0) throw new RangeError('a prefix needs a parsed address');
    if (!Number.isInteger(bits) || bits < 0 || bits > (addr.family === 4 ? 32 : 128))
      throw new RangeError(`prefix length ${bits} is out of range for IPv${addr.family}`);
    this.family = addr.family;
    this.bits = bits;
    const full = bits >> 3;
    this.bytes.set(addr.bytes.subarray(0, full));
    if ((bits & 7) !== 0) this.bytes[full] = addr.bytes[full]! & (0xff << (8 - (bits & 7)));
  }

  /** netip.Prefix.Contains: same family, no zone, first `bits` bits equal. */
  contains(addr: ParsedAddr): boolean {
    if (addr.family !== this.family || addr.zoned) return false;
    const full = this.bits >> 3;
    const a = addr.bytes;
    const p = this.bytes;
    for (let i = 0; i < full; i++) if (a[i] !== p[i]) return false;
    const rest = this.bits & 7;
    if (rest === 0) return true;
    return ((a[full]! ^ p[full]!) & (0xff << (8 - rest)) & 0xff) === 0;
  }

  /** As netip.Prefix.String() writes the masked prefix: "10.0.0.0/8", "fd00::15/128". */
  get text(): string {
    return `${formatIP(this.bytes, 0, this.family)}/${this.bits}`;
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
  return new Prefix(addr, bits);
}

// ---- Printing, as netip.Addr.String() does ----

const DECIMAL: readonly string[] = Array.from({ length: 256 }, (_, i) => String(i));

/** Dotted decimal of the 4 bytes at `offset`. */
export function formatIPv4(data: Uint8Array, offset: number): string {
  return (
    DECIMAL[data[offset]!]! +
    '.' +
    DECIMAL[data[offset + 1]!]! +
    '.' +
    DECIMAL[data[offset + 2]!]! +
    '.' +
    DECIMAL[data[offset + 3]!]!
  );
}

// One scratch array shared by every call: formatting is synchronous, so no two calls ever see it at once.
const groups = new Uint16Array(8);

/** RFC 5952 text of the 16 bytes at `offset`, as Go's netip.Addr.String() writes it. */
export function formatIPv6(data: Uint8Array, offset: number): string {
  for (let i = 0; i < 8; i++) groups[i] = (data[offset + 2 * i]! << 8) | data[offset + 2 * i + 1]!;
  if (
    groups[0] === 0 &&
    groups[1] === 0 &&
    groups[2] === 0 &&
    groups[3] === 0 &&
    groups[4] === 0 &&
    groups[5] === 0xffff
  ) {
    // netip keeps IPv4-mapped addresses recognisable instead of writing ::ffff:102:304.
    return '::ffff:' + formatIPv4(data, offset + 12);
  }
  // The longest run of two or more zero groups becomes "::"; on a tie the first run wins.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  let text = '';
  let needColon = false;
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += '::';
      i += bestLength - 1;
      needColon = false;
      continue;
    }
    if (needColon) text += ':';
    text += groups[i]!.toString(16);
    needColon = true;
  }
  return text;
}

/** Text of an IPv4 (version 4) or IPv6 (otherwise) address at `offset`. */
export function formatIP(data: Uint8Array, offset: number, version: number): string {
  return version === 4 ? formatIPv4(data, offset) : formatIPv6(data, offset);
}

const canonical = new ParsedAddr();

/**
 * The text netip.Addr.String() gives the address `text`, or undefined when it is not one. Zoned addresses are
 * refused as well: no packet carries a zone, so a zone in an address to compare against flows is a mistake.
 */
export function canonicalIp(text: string): string | undefined {
  if (parseAddrInto(text, canonical) !== undefined || canonical.zoned) return undefined;
  return formatIP(canonical.bytes, 0, canonical.family);
}

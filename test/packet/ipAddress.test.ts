// Addresses and prefixes are read and printed exactly as Go's net/netip reads and prints them.
import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalIp,
  formatIPv4,
  formatIPv6,
  ParsedAddr,
  parseAddrInto,
  parsePrefix,
} from '../../src/packet/ipAddress.js';
import { hex, ipv6Address } from '../harness/frames.js';

function bytesOf(text: string): number[] | string {
  const a = new ParsedAddr();
  const err = parseAddrInto(text, a);
  if (err !== undefined) return err;
  return [...a.bytes.subarray(0, a.family === 4 ? 4 : 16)];
}

describe('parseAddrInto', () => {
  it.each([
    ['1.2.3.4', [1, 2, 3, 4]],
    ['0.0.0.0', [0, 0, 0, 0]],
    ['255.255.255.255', [255, 255, 255, 255]],
    ['::', Array(16).fill(0)],
    ['::1', [...Array(15).fill(0), 1]],
    ['2001:db8::ff00:42:8329', [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0x00, 0x00, 0x42, 0x83, 0x29]],
    ['2001:DB8:0:0:0:0:0:1', [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 1]],
    ['::ffff:1.2.3.4', [...Array(10).fill(0), 0xff, 0xff, 1, 2, 3, 4]],
    ['fe80::', [0xfe, 0x80, ...Array(14).fill(0)]],
  ])('reads %s', (text, bytes) => {
    expect(bytesOf(text)).toEqual(bytes);
  });

  it.each([
    ['', 'unable to parse IP'],
    ['example.com', 'unexpected character in IPv4 address'],
    [' 10.0.0.1', 'unexpected character in IPv4 address'],
    ['1.2.3', 'IPv4 address too short'],
    ['1.2.3.4.5', 'IPv4 address too long'],
    ['1.2.3.256', 'IPv4 field has value >255'],
    ['01.2.3.4', 'IPv4 field has octet with leading zero'],
    ['1..3.4', 'IPv4 field must have at least one digit'],
    ['10.0.0.1.', 'IPv4 field must have at least one digit'],
    ['1.2.3.4:80', 'unexpected character in IPv4 address'],
    ['1.2.3.4%eth0', 'unexpected character in IPv4 address'],
    ['%eth0', 'missing IPv6 address before the zone'],
    ['fe80::1%', 'zone must be a non-empty string'],
    ['1::2::3', 'multiple :: in address'],
    [':::', 'each colon-separated field must have at least one digit'],
    ['fd00:::1', 'each colon-separated field must have at least one digit'],
    ['12345::1', 'each colon-separated field must have at most 4 hex digits'],
    ['1:2', 'address string too short'],
    ['1:2:3:4:5:6:7', 'address string too short'],
    ['1:2:3:4:5:6:7:8:9', 'trailing garbage after address'],
    ['1:2:3:4::5:6:7:8', 'the :: must expand to at least one field of zeros'],
    ['1:2:3:4:5:6:7::8', 'the :: must expand to at least one field of zeros'],
    ['1:2:3:4:1.2.3.4', 'embedded IPv4 address must replace the final 2 fields of the address'],
    ['::1.2.3', 'IPv4 address too short'],
    ['::1.2.3.4:5', 'unexpected character in IPv4 address'],
    ['1:', 'colon must be followed by more characters'],
    ['g::1', 'each colon-separated field must have at least one digit'],
  ])('refuses %j: %s', (text, reason) => {
    expect(bytesOf(text)).toBe(reason);
  });

  it('marks zoned addresses', () => {
    const a = new ParsedAddr();
    expect(parseAddrInto('fe80::1%eth0', a)).toBeUndefined();
    expect(a.zoned).toBe(true);
  });

  it('reads Cilium CIDR label keys with dashes for colons when asked', () => {
    const p = parsePrefix('2001-db8--/32', true);
    expect(typeof p === 'string' ? p : p.text).toBe('2001:db8::/32');
    expect(typeof parsePrefix('2001-db8--/32')).toBe('string');
  });
});

describe('printing, as netip.Addr.String()', () => {
  it.each([
    ['10.0.1.15', '10.0.1.15'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['FD00::0015', 'fd00::15'],
    ['fd00:0:0:0:0:0:0:15', 'fd00::15'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:0DB8:ABCD:0000:0000:0000:0000:00EF', '2001:db8:abcd::ef'],
    // A single zero group is written out, never shortened to "::".
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    // The longest zero run is compressed, wherever it is.
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['fe80:0:0:0:1:2:3:4', 'fe80::1:2:3:4'],
    ['ff02:0:0:0:0:1:ff00:2', 'ff02::1:ff00:2'],
    // On a tie the first run wins.
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    // IPv4-mapped addresses keep their dotted tail; IPv4-compatible and other embeddings do not.
    ['::ffff:10.0.0.1', '::ffff:10.0.0.1'],
    ['::ffff:a00:1', '::ffff:10.0.0.1'],
    ['::1.2.3.4', '::102:304'],
    ['::ffff:0:1.2.3.4', '::ffff:0:102:304'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ])('reads %s and prints %s', (text, canonical) => {
    expect(canonicalIp(text)).toBe(canonical);
  });

  it('prints nothing for zoned addresses and text that is not an address', () => {
    expect(canonicalIp('fd00::15%eth0')).toBeUndefined();
    expect(canonicalIp('10.0.1')).toBeUndefined();
  });

  it('writes IPv4 dotted decimal at any offset', () => {
    expect(formatIPv4(hex('0a000001 ffffffff'), 0)).toBe('10.0.0.1');
    expect(formatIPv4(hex('0a000001 ffffffff'), 4)).toBe('255.255.255.255');
  });

  it('writes every IPv6 address as the URL standard serializes it, except IPv4-mapped ones', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.array(fc.nat({ max: 7 }), { maxLength: 6 }),
        (bytes, zeroGroups) => {
          // Zero some groups so compression cases are common.
          for (const g of zeroGroups) bytes[2 * g] = bytes[2 * g + 1] = 0;
          const text = formatIPv6(bytes, 0);
          expect(ipv6Address(text)).toEqual(bytes);
          const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
          if (mapped) expect(text).toBe(`::ffff:${formatIPv4(bytes, 12)}`);
          else expect(text).toBe(new URL(`http://[${text}]/`).hostname.slice(1, -1));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('agrees with node:net on which strings are addresses, and reads back what it prints', () => {
    const v6 = fc
      .array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 })
      .map((g) => g.map((x) => x.toString(16)).join(':'));
    const v4 = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }).map((o) => o.join('.'));
    fc.assert(
      fc.property(fc.oneof(v4, v6), (text) => {
        const canonical = canonicalIp(text);
        expect(canonical).toBeDefined();
        expect(isIP(canonical!)).toBe(isIP(text));
        expect(canonicalIp(canonical!)).toBe(canonical);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('prefixes', () => {
  const contains = (prefix: string, addr: string) => {
    const p = parsePrefix(prefix);
    if (typeof p === 'string') throw new Error(p);
    const a = new ParsedAddr();
    if (parseAddrInto(addr, a) !== undefined) throw new Error(addr);
    return p.contains(a);
  };
  it.each([
    ['10.0.0.0/8', '10.255.255.255', true],
    ['10.0.0.0/8', '11.0.0.0', false],
    ['10.0.0.1/32', '10.0.0.1', true],
    ['10.0.0.1/32', '10.0.0.2', false],
    ['10.0.0.128/25', '10.0.0.200', true],
    ['10.0.0.128/25', '10.0.0.100', false],
    ['10.1.2.3/8', '10.9.9.9', true],
    ['0.0.0.0/0', '203.0.113.9', true],
    ['::/0', '203.0.113.9', false],
    ['2001:db8::/32', '2001:db8:ffff::1', true],
    ['2001:db8::/33', '2001:db8:8000::1', false],
    ['::ffff:0:0/96', '::ffff:1.2.3.4', true],
    ['1.2.3.0/24', '::ffff:1.2.3.4', false],
    ['fe80::/10', 'fe80::1%eth0', false],
  ])('%s contains %s: %s', (prefix, addr, expected) => {
    expect(contains(prefix, addr)).toBe(expected);
  });

  it.each([
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['10.0.0.200/25', '10.0.0.128/25'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['fd00::15/128', 'fd00::15/128'],
    ['FD00:2::1/64', 'fd00:2::/64'],
    ['2001:db8:ffff::/33', '2001:db8:8000::/33'],
    ['::/0', '::/0'],
  ])('prints %s masked, as %s', (text, masked) => {
    const p = parsePrefix(text);
    expect(typeof p === 'string' ? p : p.text).toBe(masked);
  });

  it.each(['10.0.0.0', '10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/+8', '10.0.0.0/08', 'fe80::%eth0/64', 'x/8'])(
    'refuses prefix %j',
    (text) => {
      expect(typeof parsePrefix(text)).toBe('string');
    },
  );
});

// Addresses and prefixes are read exactly as Go's net/netip reads them.
import { describe, expect, it } from 'vitest';
import { ParsedAddr, parseAddrInto, parsePrefix } from '../../../src/observer/filters/ipAddress.js';

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
    ['1.2.3', 'IPv4 address too short'],
    ['1.2.3.4.5', 'IPv4 address too long'],
    ['1.2.3.256', 'IPv4 field has value >255'],
    ['01.2.3.4', 'IPv4 field has octet with leading zero'],
    ['1..3.4', 'IPv4 field must have at least one digit'],
    ['1.2.3.4:80', 'unexpected character in IPv4 address'],
    ['%eth0', 'missing IPv6 address before the zone'],
    ['fe80::1%', 'zone must be a non-empty string'],
    ['1::2::3', 'multiple :: in address'],
    ['12345::1', 'each colon-separated field must have at most 4 hex digits'],
    ['1:2:3:4:5:6:7', 'address string too short'],
    ['1:2:3:4:5:6:7:8:9', 'trailing garbage after address'],
    ['1:2:3:4::5:6:7:8', 'the :: must expand to at least one field of zeros'],
    ['1:2:3:4:1.2.3.4', 'embedded IPv4 address must replace the final 2 fields of the address'],
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
    expect(typeof parsePrefix('2001-db8--/32', true)).toBe('object');
    expect(typeof parsePrefix('2001-db8--/32')).toBe('string');
  });
});

describe('Prefix.contains', () => {
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
    ['0.0.0.0/0', '203.0.113.9', true],
    ['::/0', '203.0.113.9', false],
    ['2001:db8::/32', '2001:db8:ffff::1', true],
    ['2001:db8::/33', '2001:db8:8000::1', false],
    ['::ffff:0:0/96', '::ffff:1.2.3.4', true],
    ['1.2.3.0/24', '::ffff:1.2.3.4', false],
  ])('%s contains %s: %s', (prefix, addr, expected) => {
    expect(contains(prefix, addr)).toBe(expected);
  });

  it.each(['10.0.0.0', '10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/+8', '10.0.0.0/08', 'fe80::%eth0/64', 'x/8'])(
    'refuses prefix %j',
    (text) => {
      expect(typeof parsePrefix(text)).toBe('string');
    },
  );
});

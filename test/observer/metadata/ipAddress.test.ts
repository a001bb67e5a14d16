import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalIp, parsePrefix } from '../../../src/observer/metadata/ipAddress.js';

describe('IP address text', () => {
  it.each([
    ['10.0.1.15', '10.0.1.15'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['::', '::'],
    ['::1', '::1'],
    ['FD00::0015', 'fd00::15'],
    ['fd00:0:0:0:0:0:0:15', 'fd00::15'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal zero runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['1::', '1::'],
    ['::ffff:10.0.0.1', '::ffff:10.0.0.1'],
    ['::ffff:a00:1', '::ffff:10.0.0.1'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ])('reads %s as %s', (text, canonical) => {
    expect(canonicalIp(text)).toBe(canonical);
  });

  it.each([
    '',
    '10.0.1',
    '10.0.1.256',
    '010.0.0.1',
    '10.0.0.1.',
    '1.2.3.4.5',
    ':::',
    '1:2',
    'fd00::15%eth0',
    '1::2::3',
    'fd00:::1',
    '12345::',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7::8',
    'g::1',
    '::1.2.3',
    '::1.2.3.4:5',
    'example.com',
    ' 10.0.0.1',
  ])('refuses %j', (text) => {
    expect(canonicalIp(text)).toBeUndefined();
  });

  it('agrees with node:net on which strings are addresses, and round-trips its own output', () => {
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
        // WHATWG's IPv6 serializer compresses like RFC 5952; it differs only on IPv4-mapped addresses.
        if (text.includes(':') && !canonical!.startsWith('::ffff:')) {
          expect(canonical).toBe(new URL(`http://[${text}]/`).hostname.slice(1, -1));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('compresses zero runs as the WHATWG serializer does, on addresses full of zeros', () => {
    const sparse = fc
      .array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 0xffff })), {
        minLength: 8,
        maxLength: 8,
      })
      .map((g) => g.map((x) => x.toString(16)).join(':'));
    fc.assert(
      fc.property(sparse, (text) => {
        const canonical = canonicalIp(text)!;
        if (!canonical.startsWith('::ffff:'))
          expect(canonical).toBe(new URL(`http://[${text}]/`).hostname.slice(1, -1));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('prefixes', () => {
  it.each([
    ['10.0.1.15', '10.0.1.15/32'],
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['fd00::15', 'fd00::15/128'],
    ['fd00:2::/64', 'fd00:2::/64'],
    ['::/0', '::/0'],
  ])('reads %s as %s', (text, canonical) => {
    const p = parsePrefix(text);
    expect('error' in p ? p.error : p.text).toBe(canonical);
  });

  it.each([
    ['10.0.1.15/24', /host bits set: write 10\.0\.1\.0\/24 for the network or 10\.0\.1\.15\/32/],
    ['10.0.0.0/33', /invalid prefix length \(0 to 32/],
    ['fd00::/129', /invalid prefix length \(0 to 128/],
    ['10.0.0.0/08', /invalid prefix length/],
    ['10.0.0.0/', /invalid prefix length/],
    ['10.0.0.300/32', /is not an IP address or CIDR/],
  ])('refuses %s', (text, message) => {
    const p = parsePrefix(text);
    expect('error' in p ? p.error : p.text).toMatch(message);
  });
});

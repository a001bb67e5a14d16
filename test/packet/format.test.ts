import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AddressTextCache, formatHardwareAddress, formatIPv4, formatIPv6, formatMAC } from '../../src/packet/format.js';
import { hex, ipv6Address } from '../harness/frames.js';

describe('address text', () => {
  it.each([
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['0000:0000:0000:0000:0000:0000:0000:0000', '::'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
    ['0001:0000:0000:0000:0000:0000:0000:0000', '1::'],
    // A single zero group is written out, never shortened to "::".
    ['2001:0db8:0000:0001:0001:0001:0001:0001', '2001:db8:0:1:1:1:1:1'],
    // The longest zero run is compressed, wherever it is.
    ['2001:0000:0000:0001:0000:0000:0000:0001', '2001:0:0:1::1'],
    // On a tie the first run wins.
    ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'],
    ['fe80:0000:0000:0000:0001:0002:0003:0004', 'fe80::1:2:3:4'],
    ['ff02:0000:0000:0000:0000:0001:ff00:0002', 'ff02::1:ff00:2'],
    ['2001:0DB8:ABCD:0000:0000:0000:0000:00EF', '2001:db8:abcd::ef'],
    // IPv4-mapped addresses keep their dotted tail (Go's netip does); IPv4-compatible ones do not.
    ['0000:0000:0000:0000:0000:ffff:0102:0304', '::ffff:1.2.3.4'],
    ['0000:0000:0000:0000:0000:0000:0102:0304', '::102:304'],
    ['0000:0000:0000:0000:ffff:0000:0102:0304', '::ffff:0:102:304'],
  ])('writes IPv6 %s as Go does: %s', (full, text) => {
    expect(formatIPv6(hex(full), 0)).toBe(text);
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

  it('writes IPv4 dotted decimal and MAC addresses lowercase with colons', () => {
    expect(formatIPv4(hex('0a000001 ffffffff'), 0)).toBe('10.0.0.1');
    expect(formatIPv4(hex('0a000001 ffffffff'), 4)).toBe('255.255.255.255');
    expect(formatMAC(hex('00 DE AD be ef 0A'), 0)).toBe('00:de:ad:be:ef:0a');
    expect(formatHardwareAddress(hex('01020304'), 0, 4)).toBe('01:02:03:04');
    expect(formatHardwareAddress(hex(''), 0, 0)).toBe('');
  });

  it('hands out one shared string per recently seen address', () => {
    const cache = new AddressTextCache(4);
    const a = hex('c0a80001');
    const first = cache.ipv4(a, 0);
    expect(first).toBe('192.168.0.1');
    expect(cache.ipv4(hex('c0a80001'), 0)).toBe(first);
    expect(cache.ipv6(ipv6Address('2001:db8::5'), 0)).toBe('2001:db8::5');
    expect(cache.ipv6(ipv6Address('2001:db8::6'), 0)).toBe('2001:db8::6');
    expect(cache.ip(ipv6Address('::ffff:10.0.0.1'), 0, 6)).toBe('::ffff:10.0.0.1');
    expect(cache.mac(hex('02aabbccddee'), 0)).toBe('02:aa:bb:cc:dd:ee');
    expect(cache.mac(hex('02aabbccddef'), 0)).toBe('02:aa:bb:cc:dd:ef');
  });

  it('never returns the text of a different address, however the slots collide', () => {
    const cache = new AddressTextCache(2);
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 16, maxLength: 16 }), { minLength: 1, maxLength: 50 }),
        (addresses) => {
          for (const bytes of addresses) {
            expect(cache.ipv4(bytes, 0)).toBe(formatIPv4(bytes, 0));
            expect(cache.ipv6(bytes, 0)).toBe(formatIPv6(bytes, 0));
            expect(cache.mac(bytes, 0)).toBe(formatMAC(bytes, 0));
          }
        },
      ),
    );
  });
});

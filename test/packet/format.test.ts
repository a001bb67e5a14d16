import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AddressTextCache, formatHardwareAddress, formatMAC } from '../../src/packet/format.js';
import { formatIPv4, formatIPv6 } from '../../src/packet/ipAddress.js';
import { hex, ipv6Address } from '../harness/frames.js';

describe('link-layer address text, and the address text cache', () => {
  it('writes MAC and other hardware addresses lowercase with colons', () => {
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

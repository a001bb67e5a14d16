// Shared sub-messages must never hand one flow another flow's headers, whatever collides in the cache.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IPVersion, SCTPChunkType, type TCPFlags } from '../../../src/api/flow/flow.js';
import { SharedFlowParts } from '../../../src/observer/parser/sharedParts.js';

const FLAGS: TCPFlags = Object.freeze({
  FIN: false,
  SYN: true,
  RST: false,
  PSH: false,
  ACK: true,
  URG: false,
  ECE: false,
  CWR: false,
  NS: false,
});

describe('shared flow parts', () => {
  it('returns the same object for equal headers and a different one when any field differs', () => {
    const parts = new SharedFlowParts();
    const a = parts.tcp(40000, 80, 0x12, FLAGS);
    expect(parts.tcp(40000, 80, 0x12, FLAGS)).toBe(a);
    expect(parts.tcp(40001, 80, 0x12, FLAGS)).not.toBe(a);
    expect(parts.udp(40000, 80).UDP).toEqual({ sourcePort: 40000, destinationPort: 80 });
    expect(parts.udp(40000, 80).TCP).toBeUndefined();
    expect(Object.isFrozen(a) && Object.isFrozen(a.TCP)).toBe(true);
  });

  it('always answers with exactly the requested fields, under random keys that collide in the cache', () => {
    const parts = new SharedFlowParts();
    const port = fc.integer({ min: 0, max: 65535 });
    const key = fc.oneof(
      fc.tuple(fc.constant('tcp' as const), port, port, fc.integer({ min: 0, max: 511 })),
      fc.tuple(fc.constant('udp' as const), port, port, fc.constant(0)),
      fc.tuple(
        fc.constant('icmpv4' as const),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
        fc.constant(0),
      ),
      fc.tuple(
        fc.constant('icmpv6' as const),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
        fc.constant(0),
      ),
      fc.tuple(fc.constant('sctp' as const), port, port, fc.constantFrom(SCTPChunkType.INIT, SCTPChunkType.ABORT)),
    );
    fc.assert(
      fc.property(fc.array(key, { minLength: 1, maxLength: 5000 }), (keys) => {
        for (const [kind, a, b, c] of keys) {
          switch (kind) {
            case 'tcp': {
              const flags = { ...FLAGS, NS: c % 2 === 1 };
              const l4 = parts.tcp(a, b, c, flags);
              if (l4.TCP?.sourcePort !== a || l4.TCP.destinationPort !== b || l4.TCP.flags?.NS !== (c % 2 === 1))
                return false;
              break;
            }
            case 'udp':
              if (parts.udp(a, b).UDP?.sourcePort !== a || parts.udp(a, b).UDP?.destinationPort !== b) return false;
              break;
            case 'icmpv4':
              if (parts.icmpv4(a, b).ICMPv4?.type !== a || parts.icmpv4(a, b).ICMPv4?.code !== b) return false;
              break;
            case 'icmpv6':
              if (parts.icmpv6(a, b).ICMPv6?.type !== a || parts.icmpv6(a, b).ICMPv6?.code !== b) return false;
              break;
            case 'sctp':
              if (parts.sctp(a, b, c).SCTP?.chunkType !== c || parts.sctp(a, b, c).SCTP?.sourcePort !== a) return false;
              break;
          }
        }
        return true;
      }),
      { numRuns: 50 },
    );
  });

  it('keys IP objects on the texts too, so an SNAT source or the encryption bit is never lost', () => {
    const parts = new SharedFlowParts();
    const bytes = Uint8Array.of(10, 0, 0, 1, 10, 0, 0, 2);
    const plain = parts.ip(bytes, 0, 4, 4, '10.0.0.1', '', '10.0.0.2', false);
    const encrypted = parts.ip(bytes, 0, 4, 4, '10.0.0.1', '', '10.0.0.2', true);
    const snat = parts.ip(bytes, 0, 4, 4, '192.168.0.9', '10.0.0.1', '10.0.0.2', false);
    expect(plain).toEqual({
      source: '10.0.0.1',
      sourceXlated: '',
      destination: '10.0.0.2',
      ipVersion: IPVersion.IPv4,
      encrypted: false,
    });
    expect(encrypted.encrypted).toBe(true);
    expect(snat).toMatchObject({ source: '192.168.0.9', sourceXlated: '10.0.0.1' });
    expect(parts.ip(bytes, 0, 4, 4, '10.0.0.1', '', '10.0.0.2', false)).toEqual(plain);
  });
});

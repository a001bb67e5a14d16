import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DatapathDecodeError } from '../../../src/monitor/datapath/decodeError.js';
import {
  TRACE_NOTIFY_V0_LEN,
  TRACE_NOTIFY_V1_LEN,
  TRACE_NOTIFY_V2_LEN,
  TraceNotifyFlag,
  TraceObservationPoint,
  decodeTraceNotify,
  encodeTraceNotify,
  traceNotifyOriginalIP,
  traceObservationPointName,
  traceReasonIsEncrypted,
  traceReasonName,
  writeTraceNotifyHeader,
} from '../../../src/monitor/datapath/traceNotify.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// struct trace_notify v1, each field little-endian unless noted, followed by a 4-byte "frame".
const v1Fixture = hex(
  `
  04                                 -- type: MessageTypeTrace
  05                                 -- obsPoint: TRACE_FROM_LXC
  a8 0b                              -- source: 0x0ba8 (endpoint 2984)
  8d 45 98 d4                        -- hash: 0xd498458d
  62 00 00 00                        -- origLen: 98
  04 00                              -- capLen: 4
  01                                 -- version: 1
  00                                 -- extVersion: 0
  68 00 00 00                        -- srcLabel: 104
  01 00 00 00                        -- dstLabel: 1 (host)
  1a 19                              -- dstID: 0x191a
  82                                 -- reason: CT_REPLY | encrypt bit
  00                                 -- flags: IPv4
  1d 00 00 00                        -- ifindex: 29
  0a 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00  -- origIP: 10.0.0.1 (network order, padded)
  de ad be ef                        -- frame bytes
`.replace(/--[^\n]*/g, ''),
);

describe('trace notify codec', () => {
  it('reads every v1 field at the offsets the datapath writes them', () => {
    const tn = decodeTraceNotify(v1Fixture);
    expect(tn).toMatchObject({
      type: 4,
      obsPoint: TraceObservationPoint.FROM_LXC,
      source: 0x0ba8,
      hash: 0xd498458d,
      origLen: 98,
      capLen: 4,
      version: 1,
      extVersion: 0,
      srcLabel: 104,
      dstLabel: 1,
      dstID: 0x191a,
      reason: 0x82,
      flags: 0,
      ifindex: 29,
      ipTraceId: 0n,
      payloadOffset: TRACE_NOTIFY_V1_LEN,
    });
    expect([...traceNotifyOriginalIP(tn)!]).toEqual([10, 0, 0, 1]);
    expect([...v1Fixture.subarray(tn.payloadOffset)]).toEqual([0xde, 0xad, 0xbe, 0xef]);
    expect(traceReasonName(tn.reason)).toBe('reply');
    expect(traceReasonIsEncrypted(tn.reason)).toBe(true);
    expect(traceObservationPointName(tn.obsPoint)).toBe('from-endpoint');
  });

  it('writes the same bytes the datapath would for the same fields', () => {
    const frame = hex('deadbeef');
    const origIP = new Uint8Array(16);
    origIP.set([10, 0, 0, 1]);
    const encoded = encodeTraceNotify(
      {
        obsPoint: TraceObservationPoint.FROM_LXC,
        source: 0x0ba8,
        hash: 0xd498458d,
        origLen: 98,
        srcLabel: 104,
        dstLabel: 1,
        dstID: 0x191a,
        reason: 0x82,
        ifindex: 29,
        origIP,
      },
      frame,
    );
    expect(Buffer.from(encoded).toString('hex')).toBe(Buffer.from(v1Fixture).toString('hex'));
  });

  it('lays out v0 in 32 bytes and v2 with the ip trace id at 48', () => {
    const v0 = encodeTraceNotify({ obsPoint: TraceObservationPoint.TO_STACK, origLen: 60 }, new Uint8Array(60));
    expect(v0.length).toBe(TRACE_NOTIFY_V0_LEN + 60);
    expect(v0[14]).toBe(0);
    const d0 = decodeTraceNotify(v0);
    expect(d0.origIP).toBeUndefined();
    expect(d0.payloadOffset).toBe(32);

    const v2 = encodeTraceNotify(
      { obsPoint: TraceObservationPoint.TO_NETWORK, origLen: 1, ipTraceId: 0x2b2c2d2e2f303132n },
      new Uint8Array([7]),
    );
    // ip_trace_id little-endian at 48..56
    expect(Buffer.from(v2.subarray(48, 56)).toString('hex')).toBe('3231302f2e2d2c2b');
    const d2 = decodeTraceNotify(v2);
    expect(d2.version).toBe(2);
    expect(d2.ipTraceId).toBe(0x2b2c2d2e2f303132n);
    expect(d2.payloadOffset).toBe(TRACE_NOTIFY_V2_LEN);
  });

  it('lets a capture source write the header in place and append the frame', () => {
    const frame = Uint8Array.from({ length: 70 }, (_, i) => i);
    const buffer = new Uint8Array(TRACE_NOTIFY_V0_LEN + frame.length);
    const headerLength = writeTraceNotifyHeader(
      buffer,
      { obsPoint: TraceObservationPoint.FROM_NETWORK, origLen: 1500, ifindex: 1 },
      frame.length,
    );
    buffer.set(frame, headerLength);
    const tn = decodeTraceNotify(buffer);
    expect(tn).toMatchObject({ origLen: 1500, capLen: 70, ifindex: 1, obsPoint: 10 });
    expect(buffer.subarray(tn.payloadOffset)).toEqual(frame);
  });

  it('clamps capLen to its u16 field for jumbo loopback frames', () => {
    const buffer = new Uint8Array(TRACE_NOTIFY_V0_LEN);
    writeTraceNotifyHeader(buffer, { obsPoint: 0, origLen: 70000 }, 70000);
    expect(decodeTraceNotify(buffer).capLen).toBe(0xffff);
    expect(decodeTraceNotify(buffer).origLen).toBe(70000);
  });

  it('returns the full 16-byte original address for IPv6 flows', () => {
    const origIP = Uint8Array.from({ length: 16 }, (_, i) => 0x20 + i);
    const tn = decodeTraceNotify(
      encodeTraceNotify({ obsPoint: 0, origLen: 0, flags: TraceNotifyFlag.IS_IPV6, origIP }, new Uint8Array()),
    );
    expect(traceNotifyOriginalIP(tn)).toEqual(origIP);
  });

  it.each([
    ['empty input', new Uint8Array(), 'SHORT_BUFFER'],
    ['31 bytes', v1Fixture.subarray(0, 31), 'SHORT_BUFFER'],
    ['v1 cut inside origIP', v1Fixture.subarray(0, 40), 'SHORT_BUFFER'],
    ['a drop message', Uint8Array.of(1, ...new Uint8Array(40)), 'WRONG_MESSAGE_TYPE'],
    [
      'version 3',
      (() => {
        const b = v1Fixture.slice();
        b[14] = 3;
        return b;
      })(),
      'UNKNOWN_VERSION',
    ],
  ])('rejects %s with a typed error', (_name, input, code) => {
    expect(() => decodeTraceNotify(input)).toThrow(expect.objectContaining({ name: 'DatapathDecodeError', code }));
  });

  it('round-trips any header fields', () => {
    fc.assert(
      fc.property(
        fc.record({
          obsPoint: fc.integer({ min: 0, max: 13 }),
          origLen: fc.nat({ max: 0xffffffff }),
          ifindex: fc.nat({ max: 0xffffffff }),
          source: fc.nat({ max: 0xffff }),
          hash: fc.nat({ max: 0xffffffff }),
          reason: fc.nat({ max: 0xff }),
          flags: fc.nat({ max: 0xff }),
          srcLabel: fc.nat({ max: 0xffffffff }),
          dstLabel: fc.nat({ max: 0xffffffff }),
          dstID: fc.nat({ max: 0xffff }),
          version: fc.integer({ min: 0, max: 2 }),
          origIP: fc.uint8Array({ minLength: 16, maxLength: 16 }),
          ipTraceId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        }),
        fc.uint8Array({ maxLength: 64 }),
        (init, frame) => {
          const tn = decodeTraceNotify(encodeTraceNotify(init, frame));
          const { origIP, ipTraceId, ...plain } = init;
          expect(tn).toMatchObject({ ...plain, capLen: frame.length });
          expect(tn.origIP).toEqual(init.version >= 1 ? origIP : undefined);
          expect(tn.ipTraceId).toBe(init.version >= 2 ? ipTraceId : 0n);
        },
      ),
    );
  });

  it('throws nothing but DatapathDecodeError for random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (bytes, asTrace) => {
        if (asTrace && bytes.length > 0) bytes[0] = 4;
        try {
          decodeTraceNotify(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(DatapathDecodeError);
        }
      }),
    );
  });
});

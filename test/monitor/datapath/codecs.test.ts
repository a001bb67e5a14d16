import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DatapathDecodeError } from '../../../src/monitor/datapath/decodeError.js';
import {
  decodeDebugCapture,
  encodeDebugCapture,
  DebugCapturePoint,
  debugCapturePointName,
} from '../../../src/monitor/datapath/debugCapture.js';
import { decodeDebugMsg, encodeDebugMsg, DebugType, debugTypeName } from '../../../src/monitor/datapath/debugMsg.js';
import {
  decodeDropNotify,
  encodeDropNotify,
  DROP_NOTIFY_V1_LEN,
  DROP_NOTIFY_V2_LEN,
} from '../../../src/monitor/datapath/dropNotify.js';
import { bpfFileName, dropReasonDescription, dropReasonName } from '../../../src/monitor/datapath/dropReason.js';
import { messageTypeName } from '../../../src/monitor/datapath/messageType.js';
import {
  decodePolicyVerdictNotify,
  encodePolicyVerdictNotify,
  policyVerdictDirection,
  policyVerdictMatchType,
  PolicyDirection,
} from '../../../src/monitor/datapath/policyVerdict.js';
import { decodeRecorderCapture, encodeRecorderCapture } from '../../../src/monitor/datapath/recorderCapture.js';
import { decodeTraceNotify } from '../../../src/monitor/datapath/traceNotify.js';
import {
  decodeTraceSockNotify,
  encodeTraceSockNotify,
  traceSockDstIP,
} from '../../../src/monitor/datapath/traceSock.js';
import { DropReason, DebugEventType } from '../../../src/api/flow/flow.js';
import { hexFixture } from './fixtureHex.js';

const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
const frame = Uint8Array.of(0xca, 0xfe);

describe('drop notify codec', () => {
  const v3 = hexFixture(`
    01                       -- type: MessageTypeDrop
    85                       -- subtype: 133 POLICY_DENIED
    34 12                    -- source: 0x1234
    04 05 06 07              -- hash: 0x07060504
    62 00 00 00              -- origLen: 98
    02 00                    -- capLen: 2
    03                       -- version: 3
    00                       -- extVersion
    11 12 13 14              -- srcLabel: 0x14131211
    15 16 17 18              -- dstLabel: 0x18171615
    19 1a 1b 1c              -- dstID: 0x1c1b1a19 (u32 in drops)
    1d 1e                    -- line: 0x1e1d
    02                       -- file: 2 (bpf_lxc.c)
    fe                       -- extError: -2
    22 23 24 25              -- ifindex: 0x25242322
    01                       -- flags: IPv6
    00 00 00                 -- pad
    99 00 00 00 00 00 00 00  -- ipTraceId: 0x99
    ca fe                    -- frame
  `);

  it('reads every v3 field at its offset', () => {
    expect(decodeDropNotify(v3)).toEqual({
      type: 1,
      subType: 133,
      source: 0x1234,
      hash: 0x07060504,
      origLen: 98,
      capLen: 2,
      version: 3,
      extVersion: 0,
      srcLabel: 0x14131211,
      dstLabel: 0x18171615,
      dstID: 0x1c1b1a19,
      line: 0x1e1d,
      file: 2,
      extError: -2,
      ifindex: 0x25242322,
      flags: 1,
      ipTraceId: 0x99n,
      payloadOffset: 48,
    });
  });

  it('writes the same bytes', () => {
    const encoded = encodeDropNotify(
      {
        subType: 133,
        source: 0x1234,
        hash: 0x07060504,
        origLen: 98,
        srcLabel: 0x14131211,
        dstLabel: 0x18171615,
        dstID: 0x1c1b1a19,
        line: 0x1e1d,
        file: 2,
        extError: -2,
        ifindex: 0x25242322,
        flags: 1,
        ipTraceId: 0x99n,
      },
      frame,
    );
    expect(hexOf(encoded)).toBe(hexOf(v3));
  });

  it('starts the frame at 36 for v0/v1 and 40 for v2', () => {
    expect(decodeDropNotify(encodeDropNotify({ subType: 1, version: 0 }, frame)).payloadOffset).toBe(
      DROP_NOTIFY_V1_LEN,
    );
    expect(decodeDropNotify(encodeDropNotify({ subType: 1, version: 1 }, frame)).payloadOffset).toBe(
      DROP_NOTIFY_V1_LEN,
    );
    const v2 = decodeDropNotify(encodeDropNotify({ subType: 1, version: 2, flags: 4 }, frame));
    expect(v2).toMatchObject({ payloadOffset: DROP_NOTIFY_V2_LEN, flags: 4, ipTraceId: 0n });
  });

  it('rejects a v3 header cut short and an unknown version', () => {
    expect(() => decodeDropNotify(v3.subarray(0, 44))).toThrow(expect.objectContaining({ code: 'SHORT_BUFFER' }));
    const v9 = v3.slice();
    v9[14] = 9;
    expect(() => decodeDropNotify(v9)).toThrow(expect.objectContaining({ code: 'UNKNOWN_VERSION' }));
  });
});

describe('policy verdict codec', () => {
  const fixture = hexFixture(`
    05                       -- type: MessageTypePolicyVerdict
    00                       -- subtype
    e8 03                    -- source: endpoint 1000
    aa bb cc dd              -- hash
    3c 00 00 00              -- origLen: 60
    02 00                    -- capLen: 2
    01                       -- version: 1
    00                       -- extVersion
    39 30 00 00              -- remoteLabel: 12345
    7b ff ff ff              -- verdict: -133 (denied, policy)
    50 00                    -- dstPort: 80
    06                       -- proto: TCP
    11                       -- flags: ingress | match L3-L4 (2 << 3)
    01                       -- authType: 1
    00 00 00                 -- pad
    ef be ad de              -- cookie: 0xdeadbeef
    00 00 00 00              -- pad
    ca fe                    -- frame
  `);

  it('reads every field at its offset', () => {
    const pv = decodePolicyVerdictNotify(fixture);
    expect(pv).toEqual({
      type: 5,
      subType: 0,
      source: 1000,
      hash: 0xddccbbaa,
      origLen: 60,
      capLen: 2,
      version: 1,
      extVersion: 0,
      remoteLabel: 12345,
      verdict: -133,
      dstPort: 80,
      proto: 6,
      flags: 0x11,
      authType: 1,
      cookie: 0xdeadbeef,
      payloadOffset: 40,
    });
    expect(policyVerdictDirection(pv.flags)).toBe(PolicyDirection.INGRESS);
    expect(policyVerdictMatchType(pv.flags)).toBe(2);
  });

  it('writes the same bytes', () => {
    const encoded = encodePolicyVerdictNotify(
      {
        source: 1000,
        hash: 0xddccbbaa,
        origLen: 60,
        remoteLabel: 12345,
        verdict: -133,
        dstPort: 80,
        proto: 6,
        flags: 0x11,
        authType: 1,
        cookie: 0xdeadbeef,
      },
      frame,
    );
    expect(hexOf(encoded)).toBe(hexOf(fixture));
  });
});

describe('debug message and capture codecs', () => {
  const msg = hexFixture(`
    02                       -- type: MessageTypeDebug
    06                       -- subtype: DBG_CT_LOOKUP
    0a 00                    -- source: 10
    01 00 00 00              -- hash: 1
    50 00 39 30              -- arg1: sport 12345 (high 16) dport 80 (low 16)
    01 06 00 00              -- arg2: nexthdr 6 (bits 8..), flags OUT
    00 00 00 00              -- arg3
  `);

  it('reads a debug message', () => {
    expect(decodeDebugMsg(msg)).toEqual({
      type: 2,
      subType: DebugType.CT_LOOKUP,
      source: 10,
      hash: 1,
      arg1: 0x30390050,
      arg2: 0x0601,
      arg3: 0,
    });
    expect(hexOf(encodeDebugMsg({ subType: 6, source: 10, hash: 1, arg1: 0x30390050, arg2: 0x0601 }))).toBe(hexOf(msg));
  });

  const capture = hexFixture(`
    03                       -- type: MessageTypeCapture
    04                       -- subtype: DBG_CAPTURE_DELIVERY
    0a 00                    -- source: 10
    01 00 00 00              -- hash
    02 00 00 00              -- len (captured): 2
    40 00 00 00              -- origLen: 64
    07 00 00 00              -- arg1: ifindex 7
    00 00 00 00              -- arg2
    ca fe                    -- frame
  `);

  it('reads a debug capture', () => {
    expect(decodeDebugCapture(capture)).toEqual({
      type: 3,
      subType: DebugCapturePoint.DELIVERY,
      source: 10,
      hash: 1,
      len: 2,
      origLen: 64,
      arg1: 7,
      arg2: 0,
      payloadOffset: 24,
    });
    expect(hexOf(encodeDebugCapture({ subType: 4, source: 10, hash: 1, origLen: 64, arg1: 7 }, frame))).toBe(
      hexOf(capture),
    );
  });
});

describe('trace sock codec', () => {
  const fixture = hexFixture(`
    07                       -- type: MessageTypeTraceSock
    01                       -- xlatePoint: pre-xlate-fwd
    01                       -- l4Proto: TCP
    00                       -- flags: IPv4
    90 1f                    -- dstPort: 8080
    00 00                    -- pad
    01 02 03 04 05 06 07 08  -- sockCookie: 0x0807060504030201
    2a 00 00 00 00 00 00 00  -- cgroupId: 42
    0a 60 00 0a 00 00 00 00 00 00 00 00 00 00 00 00 -- dstIP: 10.96.0.10
  `);

  it('reads every field at its offset', () => {
    const n = decodeTraceSockNotify(fixture);
    expect(n).toMatchObject({
      type: 7,
      xlatePoint: 1,
      l4Proto: 1,
      flags: 0,
      dstPort: 8080,
      sockCookie: 0x0807060504030201n,
      cgroupId: 42n,
    });
    expect([...traceSockDstIP(n)]).toEqual([10, 96, 0, 10]);
  });

  it('writes the same bytes', () => {
    const encoded = encodeTraceSockNotify({
      xlatePoint: 1,
      l4Proto: 1,
      dstPort: 8080,
      sockCookie: 0x0807060504030201n,
      cgroupId: 42n,
      dstIP: Uint8Array.of(10, 96, 0, 10),
    });
    expect(hexOf(encoded)).toBe(hexOf(fixture));
  });
});

describe('recorder capture codec', () => {
  const fixture = hexFixture(`
    06                       -- type: MessageTypeRecCapture
    01                       -- subtype: ingress
    03 00                    -- ruleID: 3
    00 00 00 00              -- reserved
    00 ca 9a 3b 00 00 00 00  -- timeBoot: 1e9 ns
    02 00 00 00              -- capLen: 2
    dc 05 00 00              -- len: 1500
    ca fe                    -- frame
  `);

  it('reads and writes every field at its offset', () => {
    expect(decodeRecorderCapture(fixture)).toEqual({
      type: 6,
      subType: 1,
      ruleID: 3,
      timeBoot: 1_000_000_000n,
      capLen: 2,
      len: 1500,
      payloadOffset: 24,
    });
    expect(hexOf(encodeRecorderCapture({ subType: 1, ruleID: 3, timeBoot: 1_000_000_000n, len: 1500 }, frame))).toBe(
      hexOf(fixture),
    );
  });
});

describe('round trips', () => {
  const u8 = fc.nat({ max: 0xff });
  const u16 = fc.nat({ max: 0xffff });
  const u32 = fc.nat({ max: 0xffffffff });
  const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
  const bytes = fc.uint8Array({ maxLength: 32 });

  it('drop notify', () => {
    fc.assert(
      fc.property(
        fc.record({
          subType: u8,
          source: u16,
          hash: u32,
          origLen: u32,
          version: fc.integer({ min: 0, max: 3 }),
          srcLabel: u32,
          dstLabel: u32,
          dstID: u32,
          line: u16,
          file: u8,
          extError: fc.integer({ min: -128, max: 127 }),
          ifindex: u32,
          flags: u8,
          ipTraceId: u64,
        }),
        bytes,
        (init, payload) => {
          const d = decodeDropNotify(encodeDropNotify(init, payload));
          expect(d).toMatchObject({
            ...init,
            flags: init.version >= 2 ? init.flags : 0,
            ipTraceId: init.version >= 3 ? init.ipTraceId : 0n,
            capLen: payload.length,
          });
        },
      ),
    );
  });

  it('policy verdict', () => {
    fc.assert(
      fc.property(
        fc.record({
          subType: u8,
          source: u16,
          hash: u32,
          origLen: u32,
          version: u8,
          remoteLabel: u32,
          verdict: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
          dstPort: u16,
          proto: u8,
          flags: u8,
          authType: u8,
          cookie: u32,
        }),
        bytes,
        (init, payload) => {
          expect(decodePolicyVerdictNotify(encodePolicyVerdictNotify(init, payload))).toMatchObject(init);
        },
      ),
    );
  });

  it('debug message, debug capture, trace sock, recorder capture', () => {
    fc.assert(
      fc.property(fc.record({ subType: u8, source: u16, hash: u32, arg1: u32, arg2: u32, arg3: u32 }), (init) => {
        expect(decodeDebugMsg(encodeDebugMsg(init))).toMatchObject(init);
      }),
    );
    fc.assert(
      fc.property(
        fc.record({ subType: u8, source: u16, hash: u32, origLen: u32, arg1: u32, arg2: u32 }),
        bytes,
        (init, payload) => {
          expect(decodeDebugCapture(encodeDebugCapture(init, payload))).toMatchObject({ ...init, len: payload.length });
        },
      ),
    );
    fc.assert(
      fc.property(
        fc.record({
          xlatePoint: u8,
          l4Proto: u8,
          flags: u8,
          dstPort: u16,
          sockCookie: u64,
          cgroupId: u64,
          dstIP: fc.uint8Array({ minLength: 16, maxLength: 16 }),
        }),
        (init) => {
          expect(decodeTraceSockNotify(encodeTraceSockNotify(init))).toMatchObject(init);
        },
      ),
    );
    fc.assert(
      fc.property(fc.record({ subType: u8, ruleID: u16, timeBoot: u64, len: u32 }), bytes, (init, payload) => {
        expect(decodeRecorderCapture(encodeRecorderCapture(init, payload))).toMatchObject({
          ...init,
          capLen: payload.length,
        });
      }),
    );
  });
});

describe('every decoder on random bytes', () => {
  const decoders: [string, number, (d: Uint8Array) => unknown][] = [
    ['trace', 4, decodeTraceNotify],
    ['drop', 1, decodeDropNotify],
    ['policy verdict', 5, decodePolicyVerdictNotify],
    ['debug', 2, decodeDebugMsg],
    ['capture', 3, decodeDebugCapture],
    ['trace sock', 7, decodeTraceSockNotify],
    ['recorder', 6, decodeRecorderCapture],
  ];

  it.each(decoders)('%s decoder throws nothing but DatapathDecodeError', (_name, type, decode) => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 96 }), fc.boolean(), fc.nat({ max: 4 }), (input, typed, version) => {
        // Bias half the inputs towards the right type byte and a plausible version so the deeper paths run too.
        if (typed && input.length > 0) input[0] = type;
        if (typed && input.length > 14) input[14] = version;
        try {
          decode(input);
        } catch (error) {
          expect(error).toBeInstanceOf(DatapathDecodeError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('name tables', () => {
  it('names every drop reason flow.proto names, the same way the generated API does', () => {
    for (const [name, value] of Object.entries(DropReason)) {
      if (typeof value !== 'number' || value < 0) continue;
      expect(dropReasonName(value)).toBe(name);
    }
    expect(dropReasonName(206)).toBe('DROP_REASON_UNKNOWN');
    expect(dropReasonDescription(133)).toBe('Policy denied');
    expect(dropReasonDescription(206)).toBe('206');
    expect(bpfFileName(2)).toBe('bpf_lxc.c');
    expect(bpfFileName(250)).toBe('unknown(250)');
  });

  it('names debug types and capture points as flow.proto does', () => {
    for (const [name, value] of Object.entries(DebugEventType)) {
      if (typeof value !== 'number' || value < 0) continue;
      expect(debugTypeName(value)).toBe(name);
    }
    expect(debugCapturePointName(DebugCapturePoint.SNAT_POST)).toBe('DBG_CAPTURE_SNAT_POST');
    expect(debugCapturePointName(0)).toBe('DBG_CAPTURE_POINT_UNKNOWN');
  });

  it('names message types as the monitor does', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 129, 130, 99].map(messageTypeName)).toEqual([
      'drop',
      'debug',
      'capture',
      'trace',
      'policy-verdict',
      'recorder',
      'trace-sock',
      'l7',
      'agent',
      '99',
    ]);
  });
});

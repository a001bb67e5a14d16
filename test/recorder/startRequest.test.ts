// Validation of recorder.StartRecording as Hubble's recorder does it: each refusal is INVALID_ARGUMENT and says why.
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { Protocol, StartRecording, type DeepPartial, type Filter } from '../../src/api/recorder/recorder.js';
import { ApiError } from '../../src/recorder/apiError.js';
import { parseRecorderFilter, parseStartRecording } from '../../src/recorder/startRequest.js';
import { RecordingProtocol } from '../../src/sink/types.js';

const anyV4: Filter = {
  sourceCidr: '0.0.0.0/0',
  sourcePort: 0,
  destinationCidr: '0.0.0.0/0',
  destinationPort: 0,
  protocol: Protocol.PROTOCOL_ANY,
};

function start(partial: DeepPartial<StartRecording>): StartRecording {
  return StartRecording.fromPartial({ include: [anyV4], ...partial });
}

function refusal(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('parseStartRecording', () => {
  const refusals: Array<[string, StartRecording, RegExp]> = [
    ['no include filter', StartRecording.fromPartial({}), /^need to specify at least one include filter$/],
    [
      'more include filters than a recording may hold',
      start({ include: Array.from({ length: 10_001 }, () => anyV4) }),
      /^10001 include filters; a recording may have at most 10000$/,
    ],
    [
      'a prefix with an upper-case letter',
      start({ filesink: { filePrefix: 'Hubble' } }),
      /invalid file sink prefix: "Hubble"/,
    ],
    ['a prefix starting with a digit', start({ filesink: { filePrefix: '1abc' } }), /invalid file sink prefix: "1abc"/],
    ['a prefix with a path', start({ filesink: { filePrefix: '../etc' } }), /invalid file sink prefix: "\.\.\/etc"/],
    ['a prefix with a NUL byte', start({ filesink: { filePrefix: 'a\0b' } }), /invalid file sink prefix: "a\\u0000b"/],
    ['a prefix of 21 characters', start({ filesink: { filePrefix: 'a'.repeat(21) } }), /invalid file sink prefix/],
    [
      'a source CIDR that does not parse',
      start({ include: [{ ...anyV4, sourceCidr: '10.0.0.0/33' }] }),
      /failed to parse source cidr "10\.0\.0\.0\/33": prefix length out of range/,
    ],
    [
      'a source that is an address, not a CIDR',
      start({ include: [{ ...anyV4, sourceCidr: '10.0.0.1' }] }),
      /failed to parse source cidr "10\.0\.0\.1": no '\/'/,
    ],
    [
      'a destination CIDR that does not parse',
      start({ include: [{ ...anyV4, destinationCidr: 'example.com/8' }] }),
      /failed to parse destination cidr "example\.com\/8"/,
    ],
    [
      'CIDRs of different families',
      start({ include: [{ ...anyV4, destinationCidr: '::/0' }] }),
      /source \(0\.0\.0\.0\/0\) and destination cidr \(::\/0\) must be same protocol version/,
    ],
    [
      'a source port above 65535',
      start({ include: [{ ...anyV4, sourcePort: 65536 }] }),
      /source port 65536 out of range/,
    ],
    [
      'a destination port above 65535',
      start({ include: [{ ...anyV4, destinationPort: 70000 }] }),
      /destination port 70000 out of range/,
    ],
    [
      'a protocol the recorder cannot match (ICMP)',
      start({ include: [{ ...anyV4, protocol: 1 as Protocol }] }),
      /unsupported protocol 1/,
    ],
    [
      'a negative time limit',
      start({ stopCondition: { timeElapsed: { seconds: -1, nanos: 0 } } }),
      /time_elapsed must not be negative/,
    ],
    [
      'a time limit longer than a timer can wait',
      start({ stopCondition: { timeElapsed: { seconds: 30 * 86400, nanos: 0 } } }),
      /longer than the longest time limit/,
    ],
    [
      'a bad filter after a good one',
      start({ include: [anyV4, { ...anyV4, sourceCidr: 'nope' }] }),
      /failed to parse source cidr "nope"/,
    ],
  ];

  it.each(refusals)('refuses %s with INVALID_ARGUMENT saying why', (_case, req, message) => {
    const err = refusal(() => parseStartRecording(req));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.message).toMatch(message);
  });

  it('checks the prefix before the filters, as Hubble does', () => {
    const err = refusal(() => parseStartRecording(StartRecording.fromPartial({ filesink: { filePrefix: 'X' } })));
    expect(err.message).toMatch(/invalid file sink prefix/);
  });

  it('defaults the prefix to "hubble" and accepts the longest allowed one', () => {
    expect(parseStartRecording(start({})).filePrefix).toBe('hubble');
    expect(parseStartRecording(start({ filesink: { filePrefix: '' } })).filePrefix).toBe('hubble');
    expect(parseStartRecording(start({ filesink: { filePrefix: 'a1234567890123456789' } })).filePrefix).toBe(
      'a1234567890123456789',
    );
  });

  it('carries capture length and stop conditions over, in milliseconds', () => {
    const req = parseStartRecording(
      start({
        maxCaptureLength: 96,
        stopCondition: {
          packetsCapturedCount: 100,
          bytesCapturedCount: 5000,
          timeElapsed: { seconds: 2, nanos: 500_000_001 },
        },
      }),
    );
    expect(req.maxCaptureLength).toBe(96);
    expect(req.stop).toEqual({ packets: 100, bytes: 5000, durationMs: 2501 });
    expect(parseStartRecording(start({})).stop).toEqual({ packets: 0, bytes: 0, durationMs: 0 });
  });

  it('keeps a uint64 limit beyond 2^53 as "that many" (no recording reaches it)', () => {
    const req = parseStartRecording(start({ stopCondition: { packetsCapturedCount: 2 ** 64 } }));
    expect(req.stop.packets).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('parseRecorderFilter', () => {
  it('masks host bits and keeps the ports (IPv4 and IPv6)', () => {
    const v4 = parseRecorderFilter({
      ...anyV4,
      sourceCidr: '10.1.2.3/8',
      destinationCidr: '192.168.1.7/32',
      destinationPort: 443,
    });
    expect([v4.source.text, v4.destination.text, v4.sourcePort, v4.destinationPort]).toEqual([
      '10.0.0.0/8',
      '192.168.1.7/32',
      0,
      443,
    ]);
    const v6 = parseRecorderFilter({ ...anyV4, sourceCidr: 'fd00::1:2/112', destinationCidr: '::/0', sourcePort: 53 });
    expect([v6.source.family, v6.source.text, v6.destination.text, v6.sourcePort]).toEqual([
      6,
      'fd00::1:0/112',
      '::/0',
      53,
    ]);
  });

  it.each([
    [Protocol.PROTOCOL_ANY, RecordingProtocol.ANY],
    [Protocol.PROTOCOL_TCP, RecordingProtocol.TCP],
    [Protocol.PROTOCOL_UDP, RecordingProtocol.UDP],
    [Protocol.PROTOCOL_SCTP, RecordingProtocol.SCTP],
  ])('maps protocol %i to %i', (protocol, expected) => {
    expect(parseRecorderFilter({ ...anyV4, protocol }).protocol).toBe(expected);
  });
});

// `hubble-ts record` argument handling and output, as hubble's record command does them.
import { describe, expect, it } from 'vitest';
import { Protocol } from '../../src/api/recorder/recorder.js';
import { formatRecordingStatistics, formatResponseTime, parseRecordFilters, planRecord } from '../../src/cli/record.js';
import { formatSize } from '../../src/cli/recordings.js';

describe('record filters', () => {
  it('parses "SRC_PREFIX SRC_PORT DST_PREFIX DST_PORT PROTO", protocol in any case', () => {
    expect(
      parseRecordFilters([
        '192.168.1.0/24 0 10.0.0.0/16 80 TCP',
        'fd00::/8 53 ::/0 0 udp',
        '0.0.0.0/0 0 0.0.0.0/0 0 Sctp',
        '0.0.0.0/0 0 0.0.0.0/0 0 any',
      ]),
    ).toEqual([
      {
        sourceCidr: '192.168.1.0/24',
        sourcePort: 0,
        destinationCidr: '10.0.0.0/16',
        destinationPort: 80,
        protocol: Protocol.PROTOCOL_TCP,
      },
      {
        sourceCidr: 'fd00::/8',
        sourcePort: 53,
        destinationCidr: '::/0',
        destinationPort: 0,
        protocol: Protocol.PROTOCOL_UDP,
      },
      {
        sourceCidr: '0.0.0.0/0',
        sourcePort: 0,
        destinationCidr: '0.0.0.0/0',
        destinationPort: 0,
        protocol: Protocol.PROTOCOL_SCTP,
      },
      {
        sourceCidr: '0.0.0.0/0',
        sourcePort: 0,
        destinationCidr: '0.0.0.0/0',
        destinationPort: 0,
        protocol: Protocol.PROTOCOL_ANY,
      },
    ]);
  });

  it.each([
    [[], /^need to specify at least one filter$/],
    [['10.0.0.0/8 0 10.0.0.0/8 80'], /^invalid 5-tuple filter: \["10\.0\.0\.0\/8" "0" "10\.0\.0\.0\/8" "80"\]$/],
    [['10.0.0.0/8 x 10.0.0.0/8 80 TCP'], /^invalid source port: x$/],
    [['10.0.0.0/8 0 10.0.0.0/8 65536 TCP'], /^invalid destination port: 65536$/],
    [['10.0.0.0/8 0 10.0.0.0/8 80 ICMP'], /^unsupported protocol: ICMP$/],
    [['10.0.0.0/8 0 10.0.0.0/8 80 TCP extra'], /^unsupported protocol: TCP extra$/],
  ])("refuses %j with hubble's message", (args, message) => {
    expect(() => parseRecordFilters(args)).toThrow(message);
  });
});

describe('record flags', () => {
  it('build the StartRecording hubble sends', () => {
    expect(
      planRecord(['10.0.0.0/8 0 0.0.0.0/0 443 TCP'], {
        filePrefix: 'web',
        maxCaptureLen: 128,
        packetLimit: 100,
        bytesLimit: 5000,
        timeLimit: '1m30s',
      }),
    ).toEqual({
      filesink: { filePrefix: 'web' },
      include: [
        {
          sourceCidr: '10.0.0.0/8',
          sourcePort: 0,
          destinationCidr: '0.0.0.0/0',
          destinationPort: 443,
          protocol: Protocol.PROTOCOL_TCP,
        },
      ],
      maxCaptureLength: 128,
      stopCondition: { bytesCapturedCount: 5000, packetsCapturedCount: 100, timeElapsed: { seconds: 90, nanos: 0 } },
    });
  });

  it('default to prefix "hubble", no limits and whole packets', () => {
    expect(planRecord(['0.0.0.0/0 0 0.0.0.0/0 0 ANY'], {})).toMatchObject({
      filesink: { filePrefix: 'hubble' },
      maxCaptureLength: 0,
      stopCondition: { bytesCapturedCount: 0, packetsCapturedCount: 0, timeElapsed: { seconds: 0, nanos: 0 } },
    });
  });

  it('refuse a time limit that is not a duration', () => {
    expect(() => planRecord(['0.0.0.0/0 0 0.0.0.0/0 0 ANY'], { timeLimit: 'soon' })).toThrow(/--time-limit/);
  });
});

describe('record output', () => {
  it('prints statistics as hubble does, with losses only when there are any', () => {
    expect(formatRecordingStatistics({ packetsCaptured: 10, bytesCaptured: 600, packetsLost: 0, bytesLost: 0 })).toBe(
      '10 packets (600 bytes) written',
    );
    expect(formatRecordingStatistics({ packetsCaptured: 10, bytesCaptured: 600, packetsLost: 2, bytesLost: 120 })).toBe(
      '10 packets (600 bytes) written and 2 packets (120 bytes) lost',
    );
  });

  it('prints times in RFC 3339, UTC, whole seconds', () => {
    expect(formatResponseTime({ seconds: 1_700_000_000, nanos: 123_456_789 })).toBe('2023-11-14T22:13:20Z');
  });

  it('prints sizes for people', () => {
    expect([formatSize(24), formatSize(1536), formatSize(10 * 1024 * 1024), formatSize(3 * 1024 ** 3)]).toEqual([
      '24B',
      '1.5KiB',
      '10MiB',
      '3.0GiB',
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { Flow, FlowType, IPVersion, Verdict } from '../../../src/api/flow/flow.js';
import { MessageType } from '../../../src/monitor/datapath/messageType.js';
import {
  SockL4Proto,
  SockXlatePoint,
  TRACE_SOCK_FLAG_IPV6,
  encodeTraceSockNotify,
} from '../../../src/monitor/datapath/traceSock.js';
import { ParserError } from '../../../src/observer/parser/parserError.js';
import { SockParser } from '../../../src/observer/parser/sock.js';
import { ipv4Address, ipv6Address } from '../../harness/frames.js';

const TIME = { seconds: 1_700_000_000, nanos: 5 };

describe('socket trace parser', () => {
  const services = {
    serviceAt: (ip: string, port: number) =>
      ip === '10.96.0.10' && port === 53 ? { name: 'kube-dns', namespace: 'kube-system' } : undefined,
  };
  const parser = new SockParser({ nodeName: 'node-a', services });

  it('describes a forward translation from the socket towards the service', () => {
    const flow = parser.decode(
      encodeTraceSockNotify({
        xlatePoint: SockXlatePoint.PRE_DIRECTION_FWD,
        l4Proto: SockL4Proto.UDP,
        dstPort: 53,
        dstIP: ipv4Address('10.96.0.10'),
        sockCookie: 77n,
        cgroupId: 12n,
      }),
      TIME,
      '',
    );
    expect(flow).toMatchObject({
      time: TIME,
      Type: FlowType.SOCK,
      verdict: Verdict.TRACED,
      nodeName: 'node-a',
      IP: { source: '', destination: '10.96.0.10', ipVersion: IPVersion.IPv4 },
      l4: { UDP: { sourcePort: 0, destinationPort: 53 } },
      destinationService: { name: 'kube-dns', namespace: 'kube-system' },
      eventType: { type: MessageType.TRACE_SOCK, subType: SockXlatePoint.PRE_DIRECTION_FWD },
      sockXlatePoint: SockXlatePoint.PRE_DIRECTION_FWD,
      socketCookie: 77,
      cgroupId: 12,
      Summary: 'UDP',
    });
    expect(Object.keys(flow)).toEqual(Object.keys(Flow.fromPartial({})));
  });

  it('swaps the sides of a reverse translation and says the address was translated', () => {
    const flow = parser.decode(
      encodeTraceSockNotify({
        xlatePoint: SockXlatePoint.POST_DIRECTION_REV,
        l4Proto: SockL4Proto.TCP,
        flags: TRACE_SOCK_FLAG_IPV6,
        dstPort: 443,
        dstIP: ipv6Address('fd00::10'),
      }),
      TIME,
      'node-b',
    );
    expect(flow).toMatchObject({
      verdict: Verdict.TRANSLATED,
      nodeName: 'node-b',
      IP: { source: 'fd00::10', destination: '', ipVersion: IPVersion.IPv6 },
      l4: { TCP: { sourcePort: 443, destinationPort: 0, flags: undefined } },
      Summary: 'TCP',
    });
  });

  it('names an unknown protocol "Unknown" and leaves L4 empty', () => {
    const flow = parser.decode(encodeTraceSockNotify({ xlatePoint: 9, l4Proto: 0 }), TIME, 'n');
    expect(flow.l4).toBeUndefined();
    expect(flow.Summary).toBe('Unknown');
    expect(flow.verdict).toBe(Verdict.VERDICT_UNKNOWN);
  });

  it('rejects other message types and short messages', () => {
    expect(() => parser.decode(Uint8Array.of(MessageType.TRACE), TIME, 'n')).toThrow(ParserError);
    expect(() => parser.decode(encodeTraceSockNotify({}).subarray(0, 20), TIME, 'n')).toThrowError(
      expect.objectContaining({ code: 'INVALID_MESSAGE' }),
    );
    expect(() => parser.decode(new Uint8Array(), TIME, 'n')).toThrowError(
      expect.objectContaining({ code: 'INVALID_MESSAGE' }),
    );
  });
});

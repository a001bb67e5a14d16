// The parser's dispatch: each kind of monitor event becomes the one Hubble event a client expects, or a ParserError.
import { describe, expect, it } from 'vitest';
import { AgentEventType, FlowType, LostEventSource, Verdict } from '../../../src/api/flow/flow.js';
import { AgentNotification, encodeAgentNotify } from '../../../src/monitor/agentNotify.js';
import { encodeDebugMsg } from '../../../src/monitor/datapath/debugMsg.js';
import { encodeDropNotify } from '../../../src/monitor/datapath/dropNotify.js';
import { encodeRecorderCapture } from '../../../src/monitor/datapath/recorderCapture.js';
import { encodeTraceNotify, TraceObservationPoint } from '../../../src/monitor/datapath/traceNotify.js';
import { encodeTraceSockNotify, SockL4Proto, SockXlatePoint } from '../../../src/monitor/datapath/traceSock.js';
import type { MonitorPayload } from '../../../src/monitor/types.js';
import { Parser, ParserError, type DecodedEvent } from '../../../src/observer/parser/index.js';
import { ethernet, ipv4, ipv4Address, tcp } from '../../harness/frames.js';

const TIME = { seconds: 1_800_000_000, nanos: 123_456_789 };
const parser = new Parser({
  nodeName: 'node-a',
  clusterName: 'default',
  emitter: { name: 'hubble-ts', version: 'v1.2.3' },
});
const decode = (payload: MonitorPayload): DecodedEvent =>
  parser.decode({ timestamp: TIME, nodeName: 'node-a', payload });
const perf = (data: Uint8Array): MonitorPayload => ({ kind: 'perf', cpu: 3, data });
const syn = ethernet(
  { type: 0x0800 },
  ipv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6 }, tcp({ sport: 40000, dport: 80, flags: 0x02 })),
);

describe('parser dispatch', () => {
  it('turns a trace notification into an L3/L4 flow stamped with the event time, node and emitter', () => {
    const e = decode(perf(encodeTraceNotify({ obsPoint: TraceObservationPoint.TO_NETWORK, origLen: syn.length }, syn)));
    expect(e.kind).toBe('flow');
    if (e.kind !== 'flow') return;
    expect(e.flow).toMatchObject({ Type: FlowType.L3_L4, verdict: Verdict.FORWARDED, time: TIME, nodeName: 'node-a' });
    expect(e.flow.emitter).toEqual({ name: 'hubble-ts', version: 'v1.2.3' });
    expect(e.flow.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('turns a drop notification into a DROPPED flow', () => {
    const e = decode(perf(encodeDropNotify({ subType: 133 }, syn)));
    expect(e.kind === 'flow' && e.flow.verdict).toBe(Verdict.DROPPED);
  });

  it('sends socket traces to the socket parser', () => {
    const e = decode(
      perf(
        encodeTraceSockNotify({
          xlatePoint: SockXlatePoint.PRE_DIRECTION_FWD,
          l4Proto: SockL4Proto.TCP,
          dstPort: 80,
          dstIP: ipv4Address('10.0.0.9'),
        }),
      ),
    );
    expect(e.kind === 'flow' && e.flow.Type).toBe(FlowType.SOCK);
  });

  it('turns debug messages, agent notifications and lost events into their own event kinds', () => {
    const debug = decode(perf(encodeDebugMsg({ subType: 1, source: 9 })));
    expect(debug.kind === 'debug' && debug.debugEvent.cpu).toBe(3);
    const agent = decode(
      encodeAgentNotify({ kind: 'serviceDelete', type: AgentNotification.SERVICE_DELETED, notification: { id: 4 } }),
    );
    expect(agent.kind === 'agent' && agent.agentEvent.type).toBe(AgentEventType.SERVICE_DELETED);
    const lost = decode({ kind: 'lost', source: 1, numLost: 7, cpu: 2 });
    expect(lost).toMatchObject({
      kind: 'lost',
      timestamp: TIME,
      lostEvent: { source: LostEventSource.PERF_EVENT_RING_BUFFER, numEventsLost: 7, cpu: 2 },
    });
  });

  it('refuses what the observer has no event for, with a ParserError naming why', () => {
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(), 'INVALID_MESSAGE'],
      [encodeRecorderCapture({ ruleID: 1 }, syn), 'UNKNOWN_MESSAGE_TYPE'],
      [Uint8Array.of(4, 0, 0), 'INVALID_MESSAGE'],
      [Uint8Array.of(2, 1), 'INVALID_MESSAGE'],
    ];
    for (const [data, code] of cases) {
      expect(() => decode(perf(data)), `bytes ${Array.from(data).join(',')}`).toThrow(ParserError);
      try {
        decode(perf(data));
      } catch (err) {
        expect((err as ParserError).code).toBe(code);
      }
    }
  });
});

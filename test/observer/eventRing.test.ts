// The Observer's ring: L3/L4 flows kept as records and other events as objects, each read back as the response that
// carries it and as the object filtering readers use, exactly as written.
import { describe, expect, it } from 'vitest';
import { Flow } from '../../src/api/flow/flow.js';
import { GetAgentEventsResponse, GetDebugEventsResponse, GetFlowsResponse } from '../../src/api/observer/observer.js';
import { EventKind, EventRing } from '../../src/observer/eventRing.js';
import type { DecodedEvent } from '../../src/observer/parser/index.js';
import { isLostMarker } from '../../src/observer/ring.js';
import { Parser } from '../../src/observer/parser/index.js';
import { encodeTraceNotify } from '../../src/monitor/datapath/traceNotify.js';
import { EtherType, IpProtocol } from '../../src/packet/protocols.js';
import { ethernet, ipv4, udp } from '../harness/frames.js';

const at = (seconds: number, nanos = 0) => ({ seconds, nanos });

function flowEvent(i: number, summary = 'UDP'): DecodedEvent {
  const flow = Flow.fromPartial({
    time: at(1_700_000_000 + i, i),
    uuid: `uuid-${i}`,
    verdict: 1,
    nodeName: 'node-a',
    IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 1 },
    l4: { UDP: { sourcePort: 30_000 + i, destinationPort: 53 } },
    Summary: summary,
  });
  return { kind: 'flow', timestamp: flow.time!, nodeName: 'node-a', flow };
}

describe('EventRing', () => {
  it('stores each event as the encoded response clients receive, with its kind and time', () => {
    const ring = new EventRing(7);
    ring.write(flowEvent(1));
    ring.write({
      kind: 'lost',
      timestamp: at(5),
      nodeName: 'node-a',
      lostEvent: { source: 1, numEventsLost: 9, cpu: 2, first: undefined, last: undefined },
    });
    ring.write({
      kind: 'agent',
      timestamp: at(6),
      nodeName: 'node-a',
      agentEvent: { type: 2, agentStart: { time: at(6) } } as never,
    });
    ring.write({
      kind: 'debug',
      timestamp: at(7),
      nodeName: 'node-a',
      debugEvent: {
        type: 1,
        message: 'dbg',
        source: undefined,
        hash: 5,
        arg1: undefined,
        arg2: undefined,
        arg3: undefined,
        cpu: 1,
      },
    });
    expect([0, 1, 2, 3].map((p) => ring.kindAt(p))).toEqual([
      EventKind.FLOW,
      EventKind.LOST,
      EventKind.AGENT,
      EventKind.DEBUG,
    ]);
    const flow = flowEvent(1);
    expect(GetFlowsResponse.decode(ring.responseAt(0))).toEqual(
      GetFlowsResponse.fromPartial({
        flow: (flow as { flow: Flow }).flow,
        nodeName: 'node-a',
        time: at(1_700_000_001, 1),
      }),
    );
    expect([ring.secondsAt(0), ring.nanosAt(0)]).toEqual([1_700_000_001, 1]);
    expect(GetFlowsResponse.decode(ring.responseAt(1)).lostEvents).toEqual({
      source: 1,
      numEventsLost: 9,
      cpu: 2,
      first: undefined,
      last: undefined,
    });
    expect(GetAgentEventsResponse.decode(ring.responseAt(2)).agentEvent?.agentStart).toEqual({ time: at(6) });
    expect(GetDebugEventsResponse.decode(ring.responseAt(3)).debugEvent?.message).toBe('dbg');
    // A filtering reader decodes the flow once; the next one gets the same object.
    expect(ring.flowAt(0)).toEqual((flow as { flow: Flow }).flow);
    expect(ring.flowAt(0)).toBe(ring.flowAt(0));
  });

  it('keeps the last `capacity` events, records and objects alike, each read back as it was written', () => {
    const parser = new Parser({
      nodeName: 'node-a',
      clusterName: 'default',
      emitter: { name: 'hubble-ts', version: 't' },
    });
    const ring = new EventRing(63);
    const written: Flow[] = [];
    for (let i = 0; i < 1000; i++) {
      if (i % 7 === 0) {
        const e = flowEvent(i, `object ${i}`);
        ring.write(e);
        written.push((e as { flow: Flow }).flow);
        continue;
      }
      const frame = ethernet(
        { type: EtherType.IPV4 },
        ipv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: IpProtocol.UDP }, udp(30_000 + i, 53, new Uint8Array(4))),
      );
      const record = parser.recordFlow({
        timestamp: at(1_700_000_000 + i, i),
        nodeName: 'node-a',
        payload: { kind: 'perf', cpu: 0, data: encodeTraceNotify({ obsPoint: 3, origLen: frame.length }, frame) },
      })!;
      written.push(parser.flowOf(record));
      ring.writeRecord(record, parser.emitter);
    }
    expect(ring.len).toBe(63);
    const reader = ring.readerFromOldest();
    let i = 1000 - 63;
    for (let p = reader.next(); p !== undefined; p = reader.next()) {
      if (isLostMarker(p)) throw new Error('nothing may be lost for a reader that starts at the oldest');
      const want = Flow.decode(Flow.encode(written[i]!).finish());
      // The encoded response and the object agree with what was written, UUID and time included.
      expect(GetFlowsResponse.decode(ring.responseAt(p)).flow).toEqual(want);
      expect(Flow.decode(Flow.encode(ring.flowAt(p)).finish())).toEqual(want);
      expect([ring.secondsAt(p), ring.nanosAt(p)]).toEqual([1_700_000_000 + i, i]);
      i++;
    }
    expect(i).toBe(1000);
  });
});

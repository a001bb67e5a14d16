// The Observer's ring as bytes: each event stored as the response that carries it, read back exactly, flows decoded
// once for filtering readers; the byte log grows for big events and gives up the oldest only past its limit.
import { describe, expect, it } from 'vitest';
import { Flow } from '../../src/api/flow/flow.js';
import { GetAgentEventsResponse, GetDebugEventsResponse, GetFlowsResponse } from '../../src/api/observer/observer.js';
import { EventKind, EventRing } from '../../src/observer/eventRing.js';
import type { DecodedEvent } from '../../src/observer/parser/index.js';
import { isLostMarker } from '../../src/observer/ring.js';

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

  it('keeps the last `capacity` events readable, however the byte log wraps', () => {
    const ring = new EventRing(63);
    for (let i = 0; i < 10_000; i++) ring.write(flowEvent(i, `summary ${'x'.repeat(i % 700)}`));
    expect(ring.len).toBe(63);
    const reader = ring.readerFromOldest();
    const seen: number[] = [];
    for (let p = reader.next(); p !== undefined; p = reader.next()) {
      if (isLostMarker(p)) throw new Error('nothing may be lost for a reader that starts at the oldest');
      const decoded = GetFlowsResponse.decode(ring.responseAt(p));
      seen.push(decoded.flow!.l4!.UDP!.sourcePort - 30_000);
      expect(decoded.flow!.Summary).toBe(`summary ${'x'.repeat((decoded.flow!.l4!.UDP!.sourcePort - 30_000) % 700)}`);
    }
    expect(seen).toEqual(Array.from({ length: 63 }, (_, i) => 10_000 - 63 + i));
    expect(ring.evictedEarly).toBe(0);
  });

  it('grows its byte log for events bigger than it planned for, keeping every one of them', () => {
    const ring = new EventRing(127);
    const before = ring.logBytes;
    const big = 'y'.repeat(4000);
    for (let i = 0; i < 300; i++) ring.write(flowEvent(i, big));
    expect(ring.logBytes).toBeGreaterThan(before);
    expect(ring.len).toBe(127);
    expect(GetFlowsResponse.decode(ring.responseAt(299)).flow!.Summary).toBe(big);
    expect(GetFlowsResponse.decode(ring.responseAt(300 - 127)).flow!.Summary).toBe(big);
    expect(ring.evictedEarly).toBe(0);
  });
});

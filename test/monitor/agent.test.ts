import { describe, expect, it } from 'vitest';
import { MonitorAgent, type MonitorListener } from '../../src/monitor/agent.js';
import { LostEventSource, type CapturedFrame, type MonitorEvent } from '../../src/monitor/types.js';

function perfEvent(n: number): MonitorEvent {
  return {
    timestamp: { seconds: n, nanos: 0 },
    nodeName: 'node-a',
    payload: { kind: 'perf', cpu: 0, data: Uint8Array.of(4, n & 0xff) },
  };
}

/** Describes what a listener saw: "e<n>" for a packet event, "lost<k>" for a loss notice. */
function label(event: MonitorEvent): string {
  const p = event.payload;
  if (p.kind === 'lost') return `lost${p.numLost}`;
  return `e${event.timestamp.seconds}`;
}

/** A listener that only finishes a delivery when the test releases it, like a socket whose peer stopped reading. */
function gatedListener() {
  const seen: MonitorEvent[] = [];
  let release: (() => void) | undefined;
  let closed = false;
  const listener: MonitorListener = {
    deliver(event) {
      seen.push(event);
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    close() {
      closed = true;
    },
  };
  return {
    listener,
    seen,
    isClosed: () => closed,
    /** Lets the current delivery finish and waits until the next one (if any) has started. */
    async step() {
      const r = release;
      release = undefined;
      r?.();
      for (let i = 0; i < 10; i++) await Promise.resolve();
    },
  };
}

const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('MonitorAgent', () => {
  it('hands every event to consumers in registration order within the publish call', () => {
    const agent = new MonitorAgent();
    const calls: string[] = [];
    agent.register({ onMonitorEvent: (e) => calls.push(`first:${label(e)}`) });
    agent.register({ onMonitorEvent: (e) => calls.push(`second:${label(e)}`) });
    agent.publish(perfEvent(1));
    agent.publish(perfEvent(2));
    expect(calls).toEqual(['first:e1', 'second:e1', 'first:e2', 'second:e2']);
  });

  it('keeps delivering to other consumers when one throws, and reports it', () => {
    const errors: unknown[] = [];
    const agent = new MonitorAgent({ onError: (e) => errors.push(e) });
    const seen: string[] = [];
    agent.register({
      onMonitorEvent: () => {
        throw new Error('boom');
      },
    });
    agent.register({ onMonitorEvent: (e) => seen.push(label(e)) });
    agent.publish(perfEvent(1));
    expect(seen).toEqual(['e1']);
    expect(errors).toHaveLength(1);
  });

  it('delivers to a keeping-up listener in publish order without losses', async () => {
    const agent = new MonitorAgent({ listenerQueueSize: 4 });
    const seen: string[] = [];
    agent.addListener({ deliver: async (e) => void seen.push(label(e)) });
    for (let n = 1; n <= 3; n++) {
      agent.publish(perfEvent(n));
      await settle();
    }
    expect(seen).toEqual(['e1', 'e2', 'e3']);
  });

  it('drops what overflows a slow listener, tells it how many were lost at the gap, and leaves others unaffected', async () => {
    const agent = new MonitorAgent();
    const consumerSaw: string[] = [];
    agent.register({ onMonitorEvent: (e) => consumerSaw.push(label(e)) });
    const fastSaw: string[] = [];
    agent.addListener({ deliver: (e) => void fastSaw.push(label(e)) }, { queueSize: 100 });
    const slow = gatedListener();
    const handle = agent.addListener(slow.listener, { queueSize: 2 });

    // e1 goes straight into delivery, e2 and e3 fill the queue, e4..e8 overflow.
    for (let n = 1; n <= 8; n++) agent.publish(perfEvent(n));
    await settle();
    expect(handle.stats).toEqual({ delivered: 0, lost: 5, queued: 2 });

    await slow.step(); // e1 done -> e2 starts, freeing a slot
    agent.publish(perfEvent(9)); // queued behind e3, after the gap
    while (slow.seen.length < 5) await slow.step();
    await slow.step();
    expect(slow.seen.map(label)).toEqual(['e1', 'e2', 'e3', 'lost5', 'e9']);
    const notice = slow.seen[3]!;
    expect(notice.payload).toEqual({ kind: 'lost', source: LostEventSource.OBSERVER_EVENTS_QUEUE, numLost: 5, cpu: 0 });
    expect(notice.timestamp).toEqual({ seconds: 4, nanos: 0 }); // when losing began
    expect(notice.nodeName).toBe('node-a');

    const all = ['e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9'];
    expect(consumerSaw).toEqual(all);
    await settle();
    expect(fastSaw).toEqual(all);
  });

  it('tells a listener about losses at the end of its backlog when nothing new arrives', async () => {
    const agent = new MonitorAgent();
    const slow = gatedListener();
    agent.addListener(slow.listener, { queueSize: 1 });
    for (let n = 1; n <= 5; n++) agent.publish(perfEvent(n)); // e1 delivering, e2 queued, e3..e5 lost
    await settle();
    await slow.step();
    await slow.step();
    await slow.step();
    expect(slow.seen.map(label)).toEqual(['e1', 'e2', 'lost3']);
  });

  it('holds at most the queue size per listener however many events are published', async () => {
    const agent = new MonitorAgent();
    const slow = gatedListener();
    const handle = agent.addListener(slow.listener, { queueSize: 8 });
    for (let n = 0; n < 100_000; n++) agent.publish(perfEvent(n));
    expect(handle.stats.queued).toBe(8);
    expect(handle.stats.lost).toBe(100_000 - 1 - 8);
  });

  it('closes a listener that throws and stops delivering to it', async () => {
    const errors: unknown[] = [];
    const agent = new MonitorAgent({ onError: (e, where) => errors.push(where) });
    let closed = false;
    agent.addListener({
      deliver: () => Promise.reject(new Error('peer went away')),
      close: () => {
        closed = true;
      },
    });
    agent.publish(perfEvent(1));
    await settle();
    expect(errors).toEqual(['listener']);
    expect(closed).toBe(true);
    expect(agent.listenerCount).toBe(0);
  });

  it('releases every listener on close and ignores later publishes', async () => {
    const agent = new MonitorAgent();
    const slow = gatedListener();
    agent.addListener(slow.listener);
    const consumerSaw: string[] = [];
    agent.register({ onMonitorEvent: (e) => consumerSaw.push(label(e)) });
    agent.publish(perfEvent(1));
    agent.publish(perfEvent(2));
    agent.close();
    expect(slow.isClosed()).toBe(true);
    expect(agent.listenerCount).toBe(0);
    agent.publish(perfEvent(3));
    await slow.step();
    expect(slow.seen.map(label)).toEqual(['e1']);
    expect(consumerSaw).toEqual(['e1', 'e2']);
    expect(() => agent.addListener(slow.listener)).toThrow(/closed/);
  });

  it('rejects a queue size that cannot hold an event', () => {
    expect(() => new MonitorAgent({ listenerQueueSize: 0 })).toThrow(RangeError);
    expect(() => new MonitorAgent().addListener({ deliver: () => undefined }, { queueSize: 1.5 })).toThrow(RangeError);
  });

  it('reports a backlog while any consumer still has work queued, and none once they are done', async () => {
    const agent = new MonitorAgent();
    let finish: () => void = () => undefined;
    let pending: Promise<void> | undefined;
    agent.register({ onMonitorEvent: () => undefined });
    agent.register({ onMonitorEvent: () => undefined, backlog: () => pending });
    expect(agent.backlog()).toBeUndefined();
    pending = new Promise<void>((resolve) => (finish = resolve));
    let settled = false;
    const wait = agent.backlog()!.then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    finish();
    await wait;
    expect(settled).toBe(true);
  });

  it("hands captured frames to consumers that take them, and the frame's event to everyone else", () => {
    const agent = new MonitorAgent();
    const calls: string[] = [];
    const event = perfEvent(7);
    const frame: CapturedFrame = {
      bytes: Uint8Array.of(1, 2, 3),
      start: 0,
      capLen: 3,
      origLen: 3,
      seconds: 7,
      nanos: 0,
      observationPoint: 0,
      ifindex: 0,
      nodeName: 'test',
      event: () => event,
    };
    const received: MonitorEvent[] = [];
    agent.register({ onMonitorEvent: (e) => void received.push(e) });
    agent.register({
      onMonitorEvent: () => calls.push('wrong way'),
      onCapturedFrame: (f) => calls.push(`frame:${f.seconds}`),
    });
    agent.addListener({ deliver: (e) => void received.push(e) });
    expect(agent.publishFrame(frame)).toBe(false);
    expect(calls).toEqual(['frame:7']);
    expect(received).toEqual([event, event]);
    expect(received[0]).toBe(event);
    expect(received[1]).toBe(event);
  });

  it('builds no event for a frame when every consumer takes frames and nobody listens', () => {
    const agent = new MonitorAgent();
    agent.register({ onMonitorEvent: () => undefined, onCapturedFrame: () => undefined });
    const frame = {
      bytes: new Uint8Array(0),
      start: 0,
      capLen: 0,
      origLen: 0,
      seconds: 1,
      nanos: 0,
      observationPoint: 0,
      ifindex: 0,
      nodeName: 'test',
      event: (): MonitorEvent => {
        throw new Error('no event should be built');
      },
    };
    expect(agent.publishFrame(frame)).toBe(false);
  });

  it('says a source should wait when any consumer asks, after every consumer has had the event', () => {
    const agent = new MonitorAgent();
    const seen: string[] = [];
    agent.register({ onMonitorEvent: () => true });
    agent.register({ onMonitorEvent: (e) => void seen.push(label(e)) });
    expect(agent.publish(perfEvent(1))).toBe(true);
    expect(seen).toEqual(['e1']);
    const quiet = new MonitorAgent();
    quiet.register({ onMonitorEvent: () => 1 });
    expect(quiet.publish(perfEvent(2))).toBe(false);
  });
});

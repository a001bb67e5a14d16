// The L7 parser in its worker thread (serve's default with two or more CPUs) against the same parser in the Observer's
// thread: the same packets give the same L7 flows, in the same order, each after its own packet's flow; the Observer
// waits for the worker when it is a full window ahead rather than losing records; and a worker that is gone stops L7
// reading without stopping ingest; an idle worker is stopped and another started with the next packet.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlowType, type Flow } from '../../src/api/flow/flow.js';
import { EtherType, IpProtocol } from '../../src/packet/protocols.js';
import { ethernet, ipv4, tcp } from '../harness/frames.js';
import { FUZZ_LIMITS, frameOf, hostileL7Packet } from '../harness/l7Packets.js';
import { l7Node, type L7Node } from '../harness/l7Node.js';

const text = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

/** A flow as compared across the two: everything but its UUID (random per flow). */
function comparable(f: Flow): unknown {
  return { ...f, uuid: '' };
}

/** The ring's flows from position `from` on, L3/L4 and L7 apart. */
function flowsFrom(node: L7Node, from: number): { l34: unknown[]; l7: unknown[]; all: Flow[] } {
  const all = node.flows().slice(from);
  return {
    l34: all.filter((f) => f.Type !== FlowType.L7).map(comparable),
    l7: all.filter((f) => f.Type === FlowType.L7).map(comparable),
    all,
  };
}

/** A TCP segment (PSH, ACK) of connection 10.0.0.1:port <-> 10.0.0.2:80, from the client or the server. */
function segment(fromClient: boolean, port: number, seq: number, ack: number, payload: Uint8Array): Uint8Array {
  const [src, dst] = fromClient ? ['10.0.0.1', '10.0.0.2'] : ['10.0.0.2', '10.0.0.1'];
  const [sport, dport] = fromClient ? [port, 80] : [80, port];
  return ethernet(
    { type: EtherType.IPV4 },
    ipv4({ src, dst, protocol: IpProtocol.TCP }, tcp({ sport, dport, seq, ack, flags: 0x18 }, payload)),
  );
}

/** A request and its response on connection `port` (10.0.0.1:port -> 10.0.0.2:80). */
function exchange(port: number, seq: number): Uint8Array[] {
  const request = text(`GET /item/${port} HTTP/1.1\r\nHost: shop.test\r\n\r\n`);
  const response = text('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  return [segment(true, port, seq, 7000, request), segment(false, port, 7000, seq + request.length, response)];
}

describe('the L7 parser in a worker thread', () => {
  it('gives the flows the Observer-thread parser gives, from the same hostile packets', async () => {
    const here = l7Node({ l7: { httpLimits: FUZZ_LIMITS }, ringCapacity: 65535 });
    const worker = l7Node({ l7: { httpLimits: FUZZ_LIMITS, worker: true }, ringCapacity: 65535 });
    await worker.observer.settled();
    let l7Flows = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(hostileL7Packet, { minLength: 1, maxLength: 60 }), async (packets) => {
          const hereFrom = here.observer.ring.positions.writePosition;
          const workerFrom = worker.observer.ring.positions.writePosition;
          for (const p of packets) {
            const frame = frameOf(p);
            here.send(frame);
            worker.send(frame);
          }
          await worker.observer.settled();
          const expected = flowsFrom(here, hereFrom - here.observer.ring.positions.oldestPosition);
          const got = flowsFrom(worker, workerFrom - worker.observer.ring.positions.oldestPosition);
          expect(got.l34).toEqual(expected.l34);
          expect(got.l7).toEqual(expected.l7);
          l7Flows += got.l7.length;
        }),
        { numRuns: 100 },
      );
      expect(worker.parser.l7HttpStats).toEqual(here.parser.l7HttpStats);
      expect(l7Flows).toBeGreaterThan(30);
    } finally {
      await worker.observer.close();
    }
  });

  it('stores each L7 flow after its own packet, and loses none when far ahead of the worker', async () => {
    // A small ring: the Observer may hand the worker at most a quarter of it, and waits when that is in flight.
    const node = l7Node({ l7: { worker: true }, ringCapacity: 255 });
    try {
      await node.observer.settled();
      for (let i = 0; i < 60; i++) for (const frame of exchange(41000 + i, 1000)) node.send(frame);
      await node.observer.settled();
      expect(node.observer.l7FlowsDropped).toBe(0);
      const all = node.flows();
      // 60 exchanges: 120 packet flows and 120 L7 flows, every L7 flow after the packet it came in.
      expect(all.filter((f) => f.Type === FlowType.L7)).toHaveLength(120);
      const seen = new Set<string>();
      for (const f of all) {
        const key = `${f.l4?.TCP?.sourcePort}>${f.l4?.TCP?.destinationPort}@${f.time!.nanos}`;
        if (f.Type === FlowType.L7) expect(seen.has(key), `L7 flow ${key} before its packet`).toBe(true);
        else seen.add(key);
      }
      const responses = all.filter((f) => f.l7?.http?.code === 200);
      expect(responses.map((f) => f.l7!.http!.url)).toEqual(
        Array.from({ length: 60 }, (_, i) => `http://shop.test/item/${41000 + i}`),
      );
    } finally {
      await node.observer.close();
    }
  });

  it('hands over more than its packet ring holds, heads of every size, as the Observer-thread parser reads them', async () => {
    // 600 exchanges with heads of 100 bytes to 12 KiB: about 4 MiB through the 1 MiB ring, so entries wrap round its
    // end many times (and the Observer's thread waits for room).
    const here = l7Node({ l7: {}, ringCapacity: 65535 });
    const worker = l7Node({ l7: { worker: true }, ringCapacity: 65535 });
    try {
      await worker.observer.settled();
      for (let i = 0; i < 600; i++) {
        const padding = 'x'.repeat((i * 7919) % 12000);
        const request = text(`GET /wrap/${i} HTTP/1.1\r\nHost: shop.test\r\nX-Pad: ${padding}\r\n\r\n`);
        const response = text(`HTTP/1.1 200 OK\r\nX-Pad: ${padding}\r\nContent-Length: 0\r\n\r\n`);
        for (const frame of [
          segment(true, 30000 + i, 1, 1, request),
          segment(false, 30000 + i, 1, 1 + request.length, response),
        ]) {
          here.send(frame);
          worker.send(frame);
        }
      }
      await worker.observer.settled();
      const got = flowsFrom(worker, 0);
      expect(got.l7).toHaveLength(1200);
      expect(got.l7).toEqual(flowsFrom(here, 0).l7);
      expect(worker.observer.l7FlowsDropped).toBe(0);
    } finally {
      await worker.observer.close();
    }
  });

  it('waits for the Observer when the packets in flight bring more records than its record ring holds', async () => {
    // Pipelined requests, each 25 bytes: 7 segments of 2,600, 18,200 records, more than the 16,384 the record ring
    // holds; the worker waits for the Observer's thread to take them, and none is lost or out of place.
    const node = l7Node({ l7: { worker: true }, ringCapacity: 65535 });
    try {
      await node.observer.settled();
      const perSegment = 2600;
      const segments = 7;
      let seq = 1;
      for (let s = 0; s < segments; s++) {
        let heads = '';
        for (let i = 0; i < perSegment; i++)
          heads += `GET /${String(s * perSegment + i).padStart(5, '0')} HTTP/1.1\r\n\r\n`;
        const payload = text(heads);
        node.send(segment(true, 45000, seq, 1, payload));
        seq += payload.length;
      }
      await node.observer.settled();
      const urls = node
        .flows()
        .filter((f) => f.Type === FlowType.L7)
        .map((f) => f.l7!.http!.url);
      expect(urls).toEqual(
        Array.from({ length: segments * perSegment }, (_, i) => `http://10.0.0.2:80/${String(i).padStart(5, '0')}`),
      );
      expect(node.observer.l7FlowsDropped).toBe(0);
      expect(node.parser.l7HttpStats).toMatchObject({ requests: segments * perSegment });
    } finally {
      await node.observer.close();
    }
  });

  it('stops its worker after a while without packets, starts another with the next, and keeps counting', async () => {
    const node = l7Node({ l7: { worker: true, workerIdleStopMs: 100 } });
    try {
      await node.observer.settled();
      for (const frame of exchange(43000, 1000)) node.send(frame);
      await node.observer.settled();
      expect(node.parser.l7WorkerRunning).toBe(true);
      const deadline = Date.now() + 5000;
      while (node.parser.l7WorkerRunning && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(node.parser.l7WorkerRunning).toBe(false);
      // The stopped worker's memory is given back; the next packet starts another, and the counters go on.
      for (const frame of exchange(43001, 1000)) node.send(frame);
      await node.observer.settled();
      expect(node.parser.l7WorkerRunning).toBe(true);
      expect(
        node
          .flows()
          .filter((f) => f.l7?.http?.code === 200)
          .map((f) => f.l7!.http!.url),
      ).toEqual(['http://shop.test/item/43000', 'http://shop.test/item/43001']);
      expect(node.parser.l7HttpStats).toMatchObject({ tracked: 2, requests: 2, responses: 2, connections: 1 });
    } finally {
      await node.observer.close();
    }
  });

  it('stops L7 reading when its worker is gone, and ingest goes on', async () => {
    const node = l7Node({ l7: { worker: true } });
    await node.observer.settled();
    await node.observer.close();
    for (const frame of exchange(42000, 1000)) node.send(frame);
    await node.observer.settled();
    const all = node.flows();
    expect(all.map((f) => f.Type)).toEqual([FlowType.L3_L4, FlowType.L3_L4]);
  });
});

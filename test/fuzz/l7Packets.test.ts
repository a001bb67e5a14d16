// Hostile L7 traffic through the Observer as serve builds it (L7 on): random and HTTP- or DNS-shaped payloads on port
// 53, port 80 and random ports, in random order, from many connections. Nothing throws, every flow in the ring reads
// back (L7 flows decode from their stored bytes or come without details, never with invented ones), the HTTP tracker
// stays within its bounds, and memory stays bounded through a flood of connections (200,000 in CI, 2 million in the
// long form).
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FlowType } from '../../src/api/flow/flow.js';
import { EtherType, IpProtocol } from '../../src/packet/protocols.js';
import { ethernet, ipv4, tcp } from '../harness/frames.js';
import { FUZZ_LIMITS, frameOf, hostileL7Packet } from '../harness/l7Packets.js';
import { l7Node } from '../harness/l7Node.js';
import { CaseCounter, fuzzRuns, heapAfterGc } from './fuzzRuns.js';

const counter = new CaseCounter();
afterAll(() => {
  counter.report('l7 packet sequences', 'TCP/UDP payloads on ports 53, 80, 8080 and others, through the Observer');
  counter.report('l7 flood connections', 'each opening with a request, through the Observer');
});

const text = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

describe('L7 from hostile packets, through the Observer', () => {
  it('never throws; every flow reads back; L7 flows carry only what their bytes say', () => {
    let l7Flows = 0;
    fc.assert(
      fc.property(fc.array(hostileL7Packet, { minLength: 1, maxLength: 60 }), (packets) => {
        counter.add('l7 packet sequences');
        const { parser, send, flows: readAll } = l7Node({ l7: { httpLimits: FUZZ_LIMITS } });
        for (const p of packets) send(frameOf(p));
        const flows = readAll();
        expect(flows.length).toBeGreaterThanOrEqual(packets.length);
        for (const f of flows) {
          if (f.Type !== FlowType.L7) continue;
          l7Flows++;
          expect(f.l7).toBeDefined();
          // A DNS flow is on a DNS message, an HTTP flow on an HTTP head: never both, never on something else.
          expect(f.l7!.dns !== undefined && f.l7!.http !== undefined).toBe(false);
          if (f.l7!.http !== undefined) expect(f.l7!.http.protocol).toMatch(/^HTTP\/1\.[01]$/);
        }
        const stats = parser.l7HttpStats!;
        expect(stats.connections).toBeLessThanOrEqual(64);
        expect(stats.bufferedBytes).toBeLessThanOrEqual(1 << 20);
        expect(stats.internalErrors).toBe(0);
      }),
      { numRuns: fuzzRuns(300) },
    );
    // The generated traffic does reach the L7 parser (DNS messages and HTTP heads among the random bytes).
    expect(l7Flows).toBeGreaterThan(100);
  });

  it('keeps memory bounded through a flood of connections that each open with a request', () => {
    const { parser, observer, send } = l7Node();
    const request = text('POST /upload HTTP/1.1\r\nHost: victim\r\nContent-Length: 1000000\r\n\r\n');
    const frames = (i: number) =>
      ethernet(
        { type: EtherType.IPV4 },
        ipv4(
          { src: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, dst: '10.255.0.1', protocol: IpProtocol.TCP },
          tcp({ sport: 1024 + (i % 60000), dport: 80, seq: i, ack: 1, flags: 0x18 }, request),
        ),
      );
    const connections = fuzzRuns(200_000);
    for (let i = 0; i < 20_000; i++) send(frames(i));
    const warm = heapAfterGc();
    for (let i = 20_000; i < connections; i++) send(frames(i));
    const after = heapAfterGc();
    counter.add('l7 flood connections', connections);
    expect(parser.l7HttpStats!.connections).toBeLessThanOrEqual(16384);
    expect(parser.l7HttpStats!.evicted).toBe(connections - 16384);
    // Bounded: the tracker's connections and pending request heads, the ring's arena; nothing per connection seen.
    expect(after - warm).toBeLessThan(64 * 1024 * 1024);
    expect(observer.ring.len).toBe(4095);
  }, 120_000);
});

// L7 flows in the ring: stored at ingest as the packet's L3/L4 columns plus kind, latency and the message's bytes in an
// arena, decoded when read. They read back as the flows the parser would build, encode for GetFlows like any flow,
// and a flow whose bytes a run of large messages overwrote in the arena still reads back with its kind and latency.
import { describe, expect, it } from 'vitest';
import { FlowType, L7FlowType, TrafficDirection } from '../../src/api/flow/flow.js';
import { GetFlowsResponse } from '../../src/api/observer/observer.js';
import { EtherType, IpProtocol } from '../../src/packet/protocols.js';
import { Direction } from '../../src/source/linkTypes.js';
import { ethernet, ipv4, tcp } from '../harness/frames.js';
import { l7Node } from '../harness/l7Node.js';

const text = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

/** An L7 node and a TCP conversation between 10.0.0.1:port and 10.0.0.2:80, segments 1 ms apart. */
function node(ringCapacity = 4095) {
  const { observer, send: sendFrame, flows } = l7Node({ ringCapacity });
  const send = (
    fromClient: boolean,
    seq: number,
    ack: number,
    payload: Uint8Array,
    port = 40000,
    direction: Direction = Direction.INBOUND,
  ) => {
    const [src, dst] = fromClient ? ['10.0.0.1', '10.0.0.2'] : ['10.0.0.2', '10.0.0.1'];
    const [sport, dport] = fromClient ? [port, 80] : [80, port];
    sendFrame(
      ethernet(
        { type: EtherType.IPV4 },
        ipv4({ src, dst, protocol: IpProtocol.TCP }, tcp({ sport, dport, seq, ack, flags: 0x18 }, payload)),
      ),
      direction,
    );
  };
  return { observer, send, flows };
}

describe('L7 flows in the ring', () => {
  it('read back decoded, with their own UUID, and encode for GetFlows as the flow they read as', () => {
    const { observer, send, flows } = node();
    const request = text('GET /items?id=7 HTTP/1.1\r\nHost: shop.test\r\nAuthorization: Bearer x\r\n\r\n');
    const response = text('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    send(true, 1000, 5000, request);
    send(false, 5000, 1000 + request.length, response);
    const all = flows();
    expect(all.map((f) => f.Type)).toEqual([FlowType.L3_L4, FlowType.L7, FlowType.L3_L4, FlowType.L7]);
    const [packet, l7Request, , l7Response] = all;
    expect(l7Request!.uuid).not.toBe(packet!.uuid);
    expect(l7Request!.l7).toMatchObject({
      type: L7FlowType.REQUEST,
      http: { method: 'GET', url: 'http://shop.test/items?id=7', protocol: 'HTTP/1.1' },
    });
    expect(l7Request!.l7!.http!.headers).toContainEqual({ key: 'Authorization', value: 'HUBBLE_REDACTED' });
    expect(l7Response!.l7).toMatchObject({
      type: L7FlowType.RESPONSE,
      latencyNs: 1_000_000,
      http: { code: 404, method: 'GET', url: 'http://shop.test/items?id=7' },
    });
    expect(l7Response!.Summary).toBe('HTTP/1.1 404 1ms (GET http://shop.test/items?id=7)');
    // What GetFlows sends is the flow the reader built.
    const position = observer.ring.positions.writePosition - 1;
    const sent = GetFlowsResponse.decode(observer.ring.responseAt(position));
    expect(sent.flow?.uuid).toBe(l7Response!.uuid);
    expect(sent.flow?.l7?.http?.code).toBe(404);
    expect(sent.flow?.Summary).toBe(l7Response!.Summary);
  });

  it("gives request and response the exchange's one direction: egress when this host asked, ingress when it answered", () => {
    const { send, flows } = node();
    const request = text('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    const response = text('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    // This host is the client: the request leaves, the response arrives.
    send(true, 1000, 5000, request, 40000, Direction.OUTBOUND);
    send(false, 5000, 1000 + request.length, response, 40000, Direction.INBOUND);
    // This host is the server: the request arrives, the response leaves.
    send(true, 1000, 5000, request, 40001, Direction.INBOUND);
    send(false, 5000, 1000 + request.length, response, 40001, Direction.OUTBOUND);
    const seen = flows().map((f) => [
      f.Type,
      f.l4!.TCP!.sourcePort === 80 ? 'response' : 'request',
      f.trafficDirection,
    ]);
    expect(seen).toEqual([
      [FlowType.L3_L4, 'request', TrafficDirection.EGRESS],
      [FlowType.L7, 'request', TrafficDirection.EGRESS],
      [FlowType.L3_L4, 'response', TrafficDirection.EGRESS],
      [FlowType.L7, 'response', TrafficDirection.EGRESS],
      [FlowType.L3_L4, 'request', TrafficDirection.INGRESS],
      [FlowType.L7, 'request', TrafficDirection.INGRESS],
      [FlowType.L3_L4, 'response', TrafficDirection.INGRESS],
      [FlowType.L7, 'response', TrafficDirection.INGRESS],
    ]);
  });

  it("gives a request read on the server's packet (after a segment the capture lost) the client's side", async () => {
    for (const worker of [false, true]) {
      // Packets 6 ms apart: a hole acknowledged past is given up 10 ms on.
      const { observer, send: sendFrame, flows } = l7Node({ l7: { worker }, stepNs: 6_000_000 });
      try {
        await observer.settled();
        const send = (fromClient: boolean, seq: number, ack: number, payload: Uint8Array) => {
          const [src, dst] = fromClient ? ['10.0.0.1', '10.0.0.2'] : ['10.0.0.2', '10.0.0.1'];
          const [sport, dport] = fromClient ? [40000, 80] : [80, 40000];
          sendFrame(
            ethernet(
              { type: EtherType.IPV4 },
              ipv4({ src, dst, protocol: IpProtocol.TCP }, tcp({ sport, dport, seq, ack, flags: 0x18 }, payload)),
            ),
          );
        };
        const a = text('GET /a HTTP/1.1\r\nHost: shop\r\n\r\n');
        const b = text('GET /b HTTP/1.1\r\nHost: shop\r\n\r\n');
        const c = text('GET /c HTTP/1.1\r\nHost: shop\r\n\r\n');
        const ok = text('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
        send(true, 1, 1, a);
        send(false, 1, 1 + a.length, ok);
        // GET /b is lost by the capture; GET /c waits behind it until the server has acknowledged both for 10 ms.
        send(true, 1 + a.length + b.length, 1 + ok.length, c);
        const acked = 1 + a.length + b.length + c.length;
        send(false, 1 + ok.length, acked, ok);
        send(false, 1 + 2 * ok.length, acked, ok);
        send(false, 1 + 3 * ok.length, acked, ok);
        await observer.settled();
        const l7 = flows().filter((f) => f.Type === FlowType.L7);
        const sides = l7.map((f) => ({
          url: f.l7?.http?.url,
          code: f.l7?.http?.code,
          from: `${f.IP?.source}:${f.l4?.TCP?.sourcePort}`,
          to: `${f.IP?.destination}:${f.l4?.TCP?.destinationPort}`,
          isReply: f.isReply,
        }));
        const request = (url: string) => ({ url, code: 0, from: '10.0.0.1:40000', to: '10.0.0.2:80', isReply: false });
        const response = (url: string) => ({
          url,
          code: 200,
          from: '10.0.0.2:80',
          to: '10.0.0.1:40000',
          isReply: true,
        });
        expect(sides, worker ? 'worker thread' : 'Observer thread').toEqual([
          request('http://shop/a'),
          response('http://shop/a'),
          response(''),
          response(''),
          request('http://shop/c'),
          response(''),
        ]);
      } finally {
        await observer.close();
      }
    }
  });

  it('keeps kind and latency of a flow whose bytes later messages overwrote in the arena', () => {
    // 4095 slots keep 2 MiB of message bytes: forty 60 KB heads overwrite the first ones while they are still in the
    // ring.
    const { send, flows } = node(4095);
    const filler = 'a'.repeat(60_000);
    for (let i = 0; i < 40; i++) {
      const request = text(`GET /big/${i} HTTP/1.1\r\nHost: h\r\nX-Filler: ${filler}\r\n\r\n`);
      const response = text('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      send(true, 1, 1, request, 40000 + i);
      send(false, 1, 1 + request.length, response, 40000 + i);
    }
    const l7 = flows().filter((f) => f.Type === FlowType.L7);
    expect(l7).toHaveLength(80);
    const first = l7[0]!;
    expect(first.l7).toMatchObject({ type: L7FlowType.REQUEST });
    expect(first.l7!.http).toBeUndefined();
    // The first response's own bytes (small) were overwritten too, but its latency was kept.
    expect(l7[1]!.l7!.latencyNs).toBe(1_000_000);
    const last = l7.at(-2)!;
    expect(last.l7!.http?.url).toBe('http://h/big/39');
  });
});

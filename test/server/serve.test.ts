// A whole node end to end: a real tcpdump capture replayed by `pcap:` into the Observer, read back over the unix socket and TCP.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlowFilter, Verdict } from '../../src/api/flow/flow.js';
import { GetFlowsRequest, ObserverClient, type GetFlowsResponse } from '../../src/api/observer/observer.js';
import { NodeState } from '../../src/api/relay/relay.js';
import { resolveSettings } from '../../src/server/config.js';
import { startNode, type RunningNode } from '../../src/server/node.js';
import { SERVE_SETTINGS, toServeOptions } from '../../src/server/serveOptions.js';
import { pino } from 'pino';
import { captureWhile, narrowCapture, ping, tcpExchange, udpBurst } from '../harness/capture.js';
import { tsharkFields } from '../harness/tshark.js';

interface Exchange {
  serverPort: number;
  clientPort: number;
}

function collect(stream: grpc.ClientReadableStream<GetFlowsResponse>): Promise<GetFlowsResponse[]> {
  return new Promise((resolve, reject) => {
    const out: GetFlowsResponse[] = [];
    stream.on('data', (r: GetFlowsResponse) => out.push(r));
    stream.on('end', () => resolve(out));
    stream.on('error', reject);
  });
}

describe('hubble-ts serve, replaying a real capture', () => {
  let node: RunningNode;
  let client: ObserverClient;
  let tcpClient: ObserverClient;
  let pcap: string;
  let tcp: Exchange;
  const udpPort = 39_999;

  beforeAll(async () => {
    const captured = await captureWhile('host 127.0.0.1 and (tcp or udp or icmp)', async () => {
      tcp = await tcpExchange(3);
      await udpBurst(4, udpPort);
      await ping('127.0.0.1', 2);
    });
    // Only this test's traffic: other test files talk over loopback at the same time.
    pcap = await narrowCapture(
      captured,
      `tcp port ${tcp.serverPort} or udp port ${udpPort} or icmp[icmptype] == icmp-echo or icmp[icmptype] == icmp-echoreply`,
    );
    const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-serve-'));
    const opts = toServeOptions(
      resolveSettings(SERVE_SETTINGS, {
        source: [`pcap:${pcap}`],
        'socket-path': join(dir, 'hubble.sock'),
        'recordings-dir': join(dir, 'recordings'),
        'listen-address': '127.0.0.1:0',
        'disable-server-tls': true,
        'node-name': 'test-node',
        'buffer-capacity': 255,
      }),
    );
    node = await startNode(opts, pino({ level: 'silent' }));
    await node.sourcesDone;
    client = new ObserverClient(`unix://${join(dir, 'hubble.sock')}`, grpc.credentials.createInsecure());
    tcpClient = new ObserverClient(`127.0.0.1:${node.tcpPort}`, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    tcpClient?.close();
    await node?.close();
  });

  const getFlows = (req: Partial<GetFlowsRequest>, c = client) => collect(c.getFlows(GetFlowsRequest.fromPartial(req)));

  it('serves one flow per captured packet, in capture order, agreeing with tshark', async () => {
    const frames = await tsharkFields(pcap, [
      'frame.time_epoch',
      'ip.src',
      'ip.dst',
      'tcp.srcport',
      'tcp.dstport',
      'udp.srcport',
      'udp.dstport',
      'icmp.type',
    ]);
    const flows = (await getFlows({ first: true, number: '1000' })).map((r) => r.flow!);
    expect(flows).toHaveLength(frames.length);
    flows.forEach((flow, i) => {
      const [epoch, src, dst, tcpSrc, tcpDst, udpSrc, udpDst, icmpType] = frames[i]!;
      const [sec, frac] = epoch!.split('.');
      expect(flow.time).toEqual({ seconds: Number(sec), nanos: Number(frac!.padEnd(9, '0')) });
      expect(flow.IP?.source).toBe(src);
      expect(flow.IP?.destination).toBe(dst);
      expect(flow.nodeName).toBe('test-node');
      expect(flow.verdict).toBe(Verdict.FORWARDED);
      if (tcpSrc)
        expect([flow.l4?.TCP?.sourcePort, flow.l4?.TCP?.destinationPort]).toEqual([Number(tcpSrc), Number(tcpDst)]);
      if (udpSrc && !icmpType)
        expect([flow.l4?.UDP?.sourcePort, flow.l4?.UDP?.destinationPort]).toEqual([Number(udpSrc), Number(udpDst)]);
      if (icmpType) expect(flow.l4?.ICMPv4?.type).toBe(Number(icmpType));
    });
  });

  it('answers --last N with the newest N flows, oldest first', async () => {
    const all = await getFlows({ first: true, number: '1000' });
    const last3 = await getFlows({ number: '3' });
    expect(last3.map((r) => r.flow!.uuid)).toEqual(all.slice(-3).map((r) => r.flow!.uuid));
    const first2 = await getFlows({ first: true, number: '2' });
    expect(first2.map((r) => r.flow!.uuid)).toEqual(all.slice(0, 2).map((r) => r.flow!.uuid));
  });

  it('applies allow and deny filters per request', async () => {
    // hubble observe --port P: either side of the flow, so two filters ORed.
    const port = (p: number): FlowFilter[] => [
      FlowFilter.fromPartial({ sourcePort: [String(p)] }),
      FlowFilter.fromPartial({ destinationPort: [String(p)] }),
    ];
    const toServer = await getFlows({ first: true, number: '1000', whitelist: port(tcp.serverPort) });
    expect(toServer.length).toBeGreaterThan(0);
    for (const r of toServer)
      expect([r.flow!.l4?.TCP?.sourcePort, r.flow!.l4?.TCP?.destinationPort]).toContain(tcp.serverPort);
    const all = await getFlows({ first: true, number: '1000' });
    const notServer = await getFlows({ first: true, number: '1000', blacklist: port(tcp.serverPort) });
    expect(notServer.length + toServer.length).toBe(all.length);
  });

  it('refuses a bad filter with INVALID_ARGUMENT saying what is wrong', async () => {
    const bad = [FlowFilter.fromPartial({ sourceIp: ['10.0.0.0/99'] })];
    await expect(getFlows({ number: '5', whitelist: bad })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
    });
    await expect(getFlows({ number: '5', whitelist: bad })).rejects.toThrow(/10\.0\.0\.0\/99/);
  });

  it('refuses first together with follow', async () => {
    await expect(getFlows({ first: true, follow: true })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  });

  it('honours since and until on capture time', async () => {
    const all = (await getFlows({ first: true, number: '1000' })).map((r) => r.flow!);
    const mid = all[Math.floor(all.length / 2)]!.time!;
    const since = await getFlows({ since: mid, number: '0' });
    expect(since.length).toBe(
      all.filter((f) => f.time!.seconds * 1e9 + f.time!.nanos >= mid.seconds * 1e9 + mid.nanos).length,
    );
    const until = await getFlows({ first: true, until: mid });
    expect(until.length).toBe(
      all.filter((f) => f.time!.seconds * 1e9 + f.time!.nanos <= mid.seconds * 1e9 + mid.nanos).length,
    );
  });

  it('returns only masked fields when a field mask is given', async () => {
    const [r] = await getFlows({ number: '1', fieldMask: ['time', 'IP.source'] });
    expect(r!.flow!.time).toBeDefined();
    expect(r!.flow!.IP?.source).toBe('127.0.0.1');
    expect(r!.flow!.IP?.destination).toBe('');
    expect(r!.flow!.uuid).toBe('');
    await expect(getFlows({ number: '1', fieldMask: ['no_such_field'] })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
    });
  });

  it('reports status, nodes and namespaces', async () => {
    const status = await new Promise<any>((res, rej) => client.serverStatus({}, (e, v) => (e ? rej(e) : res(v))));
    const frames = await tsharkFields(pcap, ['frame.number']);
    expect(status.numFlows).toBe(frames.length);
    expect(status.maxFlows).toBe(255);
    expect(status.seenFlows).toBe(frames.length);
    expect(status.version).toMatch(/^v\d+\.\d+\.\d+/);
    const nodes = await new Promise<any>((res, rej) => client.getNodes({}, (e, v) => (e ? rej(e) : res(v))));
    expect(nodes.nodes).toHaveLength(1);
    expect(nodes.nodes[0]).toMatchObject({
      name: 'test-node',
      state: NodeState.NODE_CONNECTED,
      numFlows: frames.length,
    });
  });

  it('serves the same API over TCP', async () => {
    const viaUnix = await getFlows({ number: '5' });
    const viaTcp = await getFlows({ number: '5' }, tcpClient);
    expect(viaTcp.map((r) => r.flow!.uuid)).toEqual(viaUnix.map((r) => r.flow!.uuid));
  });
});

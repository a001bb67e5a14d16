// Relay benchmark: GetFlows through Hubble Relay from three nodes with full rings (65535 flows each), in three
// processes so each one's CPU is its own: the nodes and the Peer service (bench/relayNodes.ts), the relay (this
// process, started as `hubble-ts relay` starts it, default settings), and the client (bench/getFlowsClient.ts).
// - --all (number 2^64-1, the relay's "merge" plan): every node's ring merged by time through the sort buffer.
// - The reference, taking turns with it round by round: the least a relay built on grpc-js can do, in this process
//   too: each node's responses handed on to the client as raw buffers through grpc-js on both sides (raw
//   (de)serializers, batched writes, 1 MiB windows as the relay's), nothing merged, no node status.
// - The same two with a client that reads HTTP/2 itself (a third of grpc-js's CPU per message), so that on two cores
//   the figure says more about the relay than about the client.
// - --last 65535 (the "collect" plan): every node sends its last 65535, the relay sorts the 196605 and sends the
//   cluster's last 65535 once all have arrived: timed as the whole answer.
// - For comparison, --all from one node straight to the client, the same processes otherwise.
// Relay CPU is process.cpuUsage() around each round, per flow the relay received from the nodes; the nodes' CPU is
// read from /proc (Linux) and the client reports its own. Run by bench/run.ts, or alone:
// node --expose-gc --import tsx bench/relay.ts
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { GetFlowsRequest } from '../src/api/observer/observer.js';
import { MAX_RING_CAPACITY } from '../src/observer/ring.js';
import { enableBatchedWrites } from '../src/protowire/encodedStream.js';
import { resolveSettings } from '../src/server/config.js';
import { startRelay, type RunningRelay } from '../src/server/relay.js';
import { RELAY_SETTINGS, toRelayOptions } from '../src/server/relayOptions.js';
import { ensureLoadCapture } from './loadCapture.js';
import type { RelayNodesReady } from './relayNodes.js';
import { rawGetFlowsMethod } from './rawGetFlows.js';

/** Responses the reference relay queues before it pauses its nodes. */
const MAX_QUEUED_RESPONSES = 1024;

const ROUNDS = 3;
/** What hubble observe --all sends: 2^64-1. */
const ALL_FLOWS = '18446744073709551615';
/** Clock ticks per second of /proc/PID/stat times (USER_HZ: 100 on every Linux that matters). */
const CLOCK_TICKS = 100;
const rate = (n: number) => Math.round(n).toLocaleString('en');

export interface RelayResults {
  relay_getflows_all_flows_per_s: number;
  relay_getflows_all_cpu_ns_per_flow: number;
  relay_getflows_direct_all_flows_per_s: number;
  relay_getflows_all_vs_direct_ratio: number;
  /** The reference in the same run: a grpc-js relay of raw buffers (nothing merged), the same client. */
  relay_getflows_reference_grpcjs_flows_per_s: number;
  relay_getflows_reference_grpcjs_cpu_ns_per_flow: number;
  /** Both again with a client that reads HTTP/2 itself (less of the two cores spent on the client). */
  relay_getflows_all_http2_client_flows_per_s: number;
  relay_getflows_reference_grpcjs_http2_client_flows_per_s: number;
  relay_getflows_last65535_seconds: number;
  relay_getflows_last65535_cpu_ns_per_flow: number;
}

interface Round {
  /** Which of the servers given to the client answered. */
  server: number;
  /** Flows the client received, and every response (flows, node status). */
  flows: number;
  responses: number;
  bytes: number;
  seconds: number;
  /** CPU of this process (the relay, or the reference relay) during the round. */
  relayCpuSeconds: number;
  nodesCpuSeconds: number;
  clientCpuSeconds: number;
}

/** User and system CPU seconds another process has used so far. */
function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is the 3rd field, utime the 14th, stime the 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/**
 * Runs the client for ROUNDS rounds of one request to each server in turn, timing every process's CPU between the
 * client's lines.
 */
async function runClient(
  servers: readonly string[],
  number: string,
  order: 'first' | 'last',
  transport: 'grpc-js' | 'http2',
  nodesPid: number,
): Promise<Round[]> {
  const script = join(import.meta.dirname, 'getFlowsClient.ts');
  const args = [script, servers.join(','), number, String(ROUNDS), order, transport];
  const client = spawn(process.execPath, ['--import', 'tsx', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(client, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const rounds: Round[] = [];
  // The first round's window also holds the client's start, when the relay and the nodes are idle.
  let relayCpu = process.cpuUsage();
  let nodesCpu = processCpuSeconds(nodesPid);
  for await (const line of createInterface({ input: client.stdout })) {
    const { user, system } = process.cpuUsage(relayCpu);
    const nodesNow = processCpuSeconds(nodesPid);
    const r = JSON.parse(line) as Omit<Round, 'relayCpuSeconds' | 'nodesCpuSeconds' | 'clientCpuSeconds'> & {
      cpuSeconds: number;
    };
    rounds.push({
      ...r,
      relayCpuSeconds: (user + system) / 1e6,
      nodesCpuSeconds: nodesNow - nodesCpu,
      clientCpuSeconds: r.cpuSeconds,
    });
    relayCpu = process.cpuUsage();
    nodesCpu = nodesNow;
  }
  const [code, signal] = await exited;
  if (code !== 0) throw new Error(`the GetFlows client exited with ${signal ?? code}`);
  return rounds;
}

/**
 * The reference relay: GetFlows handed from every node to the client as raw buffers through grpc-js on both sides,
 * in arrival order: what any relay built on grpc-js's streams pays per flow before it merges anything.
 */
async function startReferenceRelay(nodeSockets: readonly string[]): Promise<{ target: string; close(): void }> {
  const method = rawGetFlowsMethod();
  const Raw = grpc.makeGenericClientConstructor({ getFlows: method }, 'Observer');
  const nodes = nodeSockets.map(
    (socket) =>
      new Raw(`unix://${socket}`, grpc.credentials.createInsecure(), {
        'grpc-node.flow_control_window': 1024 * 1024,
        'grpc.use_local_subchannel_pool': 1,
      }) as unknown as grpc.Client & { getFlows(r: GetFlowsRequest): grpc.ClientReadableStream<Buffer> },
  );
  const server = new grpc.Server();
  server.addService({ getFlows: method } as grpc.ServiceDefinition, {
    getFlows: (call: grpc.ServerWritableStream<GetFlowsRequest, Buffer>) => {
      enableBatchedWrites(call);
      const streams = nodes.map((n) => n.getFlows(call.request));
      let open = streams.length;
      let paused = false;
      for (const stream of streams) {
        stream.on('data', (b: Buffer) => {
          if (call.write(b) || call.writableLength < MAX_QUEUED_RESPONSES || paused) return;
          paused = true;
          for (const s of streams) s.pause();
          call.once('drain', () => {
            paused = false;
            for (const s of streams) s.resume();
          });
        });
        stream.on('error', (err) => call.emit('error', err));
        stream.on('end', () => {
          if (--open === 0) call.end();
        });
      }
      call.on('cancelled', () => streams.forEach((s) => s.cancel()));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return {
    target: `127.0.0.1:${port}`,
    close: () => {
      server.forceShutdown();
      for (const n of nodes) n.close();
    },
  };
}

/** How busy each process was during a round, in cores. */
function cores(r: Round): string {
  const share = (s: number) => (s / r.seconds).toFixed(2);
  return `relay ${share(r.relayCpuSeconds)}, nodes ${share(r.nodesCpuSeconds)}, client ${share(r.clientCpuSeconds)} cores`;
}

/** Starts bench/relayNodes.ts and waits for its line saying where the Peer service and the nodes serve. */
async function startNodes(capturePath: string, dir: string): Promise<{ child: ChildProcess; ready: RelayNodesReady }> {
  const script = join(import.meta.dirname, 'relayNodes.ts');
  // Its stdin stays open: closing it (or this process ending) shuts the nodes down.
  const child = spawn(process.execPath, ['--import', 'tsx', script, capturePath, dir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`bench/relayNodes.ts exited (${String(code)}) before serving`);
  });
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([once(lines, 'line'), exited])) as [string];
  lines.close();
  exited.catch(() => undefined);
  return { child, ready: JSON.parse(line) as RelayNodesReady };
}

async function untilConnected(relay: RunningRelay, count: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (relay.peers.list().filter((p) => p.state === 'connected').length < count) {
    if (Date.now() > deadline) throw new Error(`the relay did not connect to the ${count} bench nodes in 20 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The best of a server's rounds: flows per second (most) and relay CPU per flow received (least). */
function best(rounds: readonly Round[], flows: number): { perSecond: number; cpuNsPerFlow: number } {
  return {
    perSecond: Math.max(...rounds.map((r) => r.flows / r.seconds)),
    cpuNsPerFlow: Math.min(...rounds.map((r) => (r.relayCpuSeconds * 1e9) / flows)),
  };
}

export async function benchRelay(capturePath: string, log: (line: string) => void): Promise<RelayResults> {
  const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-bench-relay-'));
  const { child: nodes, ready } = await startNodes(capturePath, dir);
  const nodesPid = nodes.pid!;
  let relay: RunningRelay | undefined;
  let reference: Awaited<ReturnType<typeof startReferenceRelay>> | undefined;
  try {
    const ringFlows = ready.nodes.map((n) => n.flows);
    const clusterFlows = ringFlows.reduce((a, b) => a + b, 0);
    const last = Math.min(MAX_RING_CAPACITY, clusterFlows);
    log(`relay: ${ready.nodes.length} nodes in another process, ${ringFlows.join(' + ')} flows in their rings`);
    relay = await startRelay(
      toRelayOptions(
        resolveSettings(RELAY_SETTINGS, {
          'peer-service': ready.peerService,
          'listen-address': '127.0.0.1:0',
          'disable-server-tls': true,
          'disable-client-tls': true,
          'log-level': 'silent',
        }),
      ),
    );
    await untilConnected(relay, ready.nodes.length);
    reference = await startReferenceRelay(ready.nodes.map((n) => n.socket));
    const target = `127.0.0.1:${relay.port}`;

    const direct = await runClient([ready.nodes[0]!.socket], ALL_FLOWS, 'last', 'grpc-js', nodesPid);
    direct.forEach((r, i) => {
      if (r.flows !== ringFlows[0]) throw new Error(`direct --all: ${r.flows} flows, expected ${ringFlows[0]}`);
      log(
        `GetFlows --all from one node, no relay, round ${i + 1}: ${r.flows} flows in ${r.seconds.toFixed(2)} s = ${rate(r.flows / r.seconds)} flows/s; ${cores(r)}`,
      );
    });
    const directBest = best(direct, ringFlows[0]!).perSecond;

    const names = ['relay GetFlows --all (merge)', 'reference: grpc-js relay of raw buffers, unmerged'];
    const merged: Record<'grpc-js' | 'http2', { relay: Round[]; reference: Round[] }> = {
      'grpc-js': { relay: [], reference: [] },
      http2: { relay: [], reference: [] },
    };
    for (const transport of ['grpc-js', 'http2'] as const) {
      const rounds = await runClient([target, reference.target], ALL_FLOWS, 'last', transport, nodesPid);
      rounds.forEach((r) => {
        if (r.flows !== clusterFlows) throw new Error(`${names[r.server]}: ${r.flows} flows, expected ${clusterFlows}`);
        const ns = (r.relayCpuSeconds * 1e9) / clusterFlows;
        log(
          `${names[r.server]}, ${transport} client: ${r.flows} flows (${(r.bytes / 2 ** 20).toFixed(1)} MiB) in ${r.seconds.toFixed(2)} s = ${rate(r.flows / r.seconds)} flows/s; relay CPU ${Math.round(ns)} ns/flow; ${cores(r)}`,
        );
        merged[transport][r.server === 0 ? 'relay' : 'reference'].push(r);
      });
    }
    const all = best(merged['grpc-js'].relay, clusterFlows);
    const ref = best(merged['grpc-js'].reference, clusterFlows);
    const allHttp2 = best(merged.http2.relay, clusterFlows);
    const refHttp2 = best(merged.http2.reference, clusterFlows);

    const collect = await runClient([target], String(last), 'last', 'grpc-js', nodesPid);
    let collectBest = Infinity;
    let collectCpu = Infinity;
    collect.forEach((r, i) => {
      if (r.flows !== last) throw new Error(`relay --last ${last}: ${r.flows} flows, expected ${last}`);
      // Per flow received: the relay takes in every node's last N to send the cluster's last N.
      const ns = (r.relayCpuSeconds * 1e9) / clusterFlows;
      log(
        `relay GetFlows --last ${last} (collect), round ${i + 1}: ${clusterFlows} flows from the nodes, ${r.flows} sent, in ${r.seconds.toFixed(2)} s = ${rate(clusterFlows / r.seconds)} node flows/s; relay CPU ${Math.round(ns)} ns/node flow; ${cores(r)}`,
      );
      collectBest = Math.min(collectBest, r.seconds);
      collectCpu = Math.min(collectCpu, ns);
    });

    log(
      `relay --all: ${rate(all.perSecond)} flows/s, ${Math.round(all.cpuNsPerFlow)} ns relay CPU/flow; grpc-js reference ${rate(ref.perSecond)} flows/s, ${Math.round(ref.cpuNsPerFlow)} ns/flow; one node direct ${rate(directBest)} flows/s`,
    );
    log(
      `with the HTTP/2 client: relay ${rate(allHttp2.perSecond)} flows/s (${Math.round(allHttp2.cpuNsPerFlow)} ns/flow), grpc-js reference ${rate(refHttp2.perSecond)} flows/s (${Math.round(refHttp2.cpuNsPerFlow)} ns/flow)`,
    );
    return {
      relay_getflows_all_flows_per_s: Math.round(all.perSecond),
      relay_getflows_all_cpu_ns_per_flow: Math.round(all.cpuNsPerFlow),
      relay_getflows_direct_all_flows_per_s: Math.round(directBest),
      relay_getflows_all_vs_direct_ratio: Number((all.perSecond / directBest).toFixed(3)),
      relay_getflows_reference_grpcjs_flows_per_s: Math.round(ref.perSecond),
      relay_getflows_reference_grpcjs_cpu_ns_per_flow: Math.round(ref.cpuNsPerFlow),
      relay_getflows_all_http2_client_flows_per_s: Math.round(allHttp2.perSecond),
      relay_getflows_reference_grpcjs_http2_client_flows_per_s: Math.round(refHttp2.perSecond),
      relay_getflows_last65535_seconds: Number(collectBest.toFixed(2)),
      relay_getflows_last65535_cpu_ns_per_flow: Math.round(collectCpu),
    };
  } finally {
    reference?.close();
    await relay?.close();
    nodes.stdin!.end();
    if (nodes.exitCode === null) await once(nodes, 'exit');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) {
  const packets = Number(process.env['BENCH_PACKETS'] ?? 1_000_000);
  const capturePath = join(import.meta.dirname, 'out', `load-${packets}.pcap`);
  const log = (line: string) => process.stdout.write(line + '\n');
  await ensureLoadCapture(capturePath, packets, log);
  const results = await benchRelay(capturePath, log);
  const resultsPath = join(import.meta.dirname, 'results.json');
  const previous = existsSync(resultsPath)
    ? (JSON.parse(readFileSync(resultsPath, 'utf8')) as Record<string, unknown>)
    : {};
  writeFileSync(resultsPath, JSON.stringify({ ...previous, ...results }, null, 2) + '\n');
  log('wrote bench/results.json');
}

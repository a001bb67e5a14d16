// The soak: three `hubble-ts serve` nodes capturing live on loopback under generated UDP and TCP traffic, fifty GetFlows
// followers (steady ones, two that stall for seconds at a time, five that reconnect over and over), ten recordings, flow
// export on one node, and `hubble-ts relay` over the three with a client following through it. While it runs, the RSS
// and heap of every process are sampled from its /metrics; afterwards every event is accounted for: what was sent,
// what each node took in, what each follower received or was told it lost, what the counters say, what each
// recording holds. The same run serves the CI test (short) and `npm run soak` (long).
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { RecorderClient } from '../../src/api/recorder/recorder.js';
import { RecordStream } from '../recorder/harness.js';
import { readPcap } from '../harness/pcapFiles.js';
import { tsharkFields } from '../harness/tshark.js';
import { tempDir, writePeersFile } from '../relay/harness.js';
import { accountedOf, FlowCounter, observerClient, waitUntil } from './flowCounter.js';
import {
  MemorySampler,
  scrapeMetrics,
  startRelay,
  startServe,
  sumOf,
  type RelayProcess,
  type ServedProcess,
} from './processes.js';
import { memoryTrend, mib, type MemoryTrend } from './slope.js';
import { TrafficGenerator, TrafficSink, type TrafficTarget } from './traffic.js';

export interface SoakConfig {
  /** Seconds of load. */
  durationS: number;
  /** Seconds of load before the memory trend counts. */
  warmupS: number;
  sampleEveryMs: number;
  /** Window of the lower envelope the heap slope is taken through. */
  envelopeWindowS: number;
  /** UDP datagrams per second to each node. */
  udpPerSecond: number;
  /** A TCP echo connection to each node this often. */
  tcpEveryMs: number;
  /** GetFlows followers in all, of which `sluggish` stall for seconds at a time and `churning` reconnect. */
  followers: number;
  sluggish: number;
  churning: number;
  churnEveryMs: number;
  /** A sluggish follower stops reading for `stallMs` every `stallEveryMs`. */
  stallMs: number;
  stallEveryMs: number;
  recordings: number;
  /**
   * Memory after warm-up, per process: the heap (after a full collection) may grow at most `heapBytesPerMin`; RSS at
   * most `rssBytesPerMin` (a line needs minutes to mean anything) or, over a short run, `rssGrowthBytes` above where
   * it stood when warm-up ended.
   */
  bounds: { heapBytesPerMin: number; rssBytesPerMin?: number; rssGrowthBytes?: number };
  /**
   * Share of the datagrams sent that may go uncaptured and uncounted: libpcap's kernel ring drops packets while a
   * process stalls, and the node counts those drops (pcap_stats) as lost events, so this should stay 0; it is a bound
   * for what the counting cannot pin to UDP (the drops include the TCP packets captured beside the datagrams).
   */
  maxUncountedCaptureLoss: number;
  /** Where the JSON report goes. */
  outFile: string;
  log: (line: string) => void;
}

export const NODE_NAMES = ['alpha', 'beta', 'gamma'] as const;
type NodeName = (typeof NODE_NAMES)[number];
/** gamma's ring is small, so the sluggish followers there are overtaken and told how much they lost. */
const RING: Record<NodeName, number> = { alpha: 4095, beta: 4095, gamma: 255 };
const UDP_PORTS_PER_NODE = 4;
const ANY_FILTER = '0.0.0.0/0 0 0.0.0.0/0 0 ANY';

/** Records per UDP destination port in a pcap of Ethernet/IPv4 frames. */
function udpPortCounts(path: string): Map<number, number> {
  const counts = new Map<number, number>();
  for (const { data } of readPcap(path).records) {
    if (data.length < 14 + 20 + 4 || data[12] !== 0x08 || data[13] !== 0x00 || data[14 + 9] !== 17) continue;
    const l4 = 14 + (data[14]! & 0x0f) * 4;
    const port = (data[l4 + 2]! << 8) | data[l4 + 3]!;
    counts.set(port, (counts.get(port) ?? 0) + 1);
  }
  return counts;
}

interface RecordingRun {
  node: NodeName;
  filter: string;
  stream: RecordStream;
  /** The datagrams this recording must have seen: a port's count, or every event of the node (ANY). */
  expected: () => number;
}

export interface SoakReport {
  startedAt: string;
  machine: { cores: number; cpu: string; node: string };
  config: Omit<SoakConfig, 'log' | 'outFile'>;
  loadSeconds: number;
  /** CPU of the test process itself (followers, recording clients, traffic), as a share of one core. */
  clientCpuShare: number;
  memory: Record<string, MemoryTrend>;
  /** Every sample, per process: [seconds, rss, heap used after a full collection, loop lag max (s), CPU seconds]. */
  samples: Record<string, number[][]>;
  traffic: { udpSent: number; tcpConnections: number; tcpFailures: number };
  /** Datagrams sent that no node captured beyond the kernel drops it counted (perf_event_ring_buffer lost events). */
  uncountedCaptureLoss: number;
  nodes: Record<
    string,
    {
      udpSent: number;
      udpFlows: number;
      /** hubble_lost_events_total{source="perf_event_ring_buffer"}: packets the capture's kernel ring dropped. */
      captureLost: number;
      events: number;
      apiReaderLost: number;
      hubbleRingBufferLost: number;
      lostToldToReaders: number;
      recorderLost: number;
    }
  >;
  followers: {
    steady: number;
    steadyFlows: number;
    sluggishLost: number[];
    churnConnections: number;
    churnFlows: number;
    relayClient: Record<string, { flows: number; lost: number; expected: number }>;
  };
  recordings: Array<{
    node: string;
    filter: string;
    captured: number;
    lost: number;
    expected: number;
    fileRecords: number;
  }>;
  export: { written: number; dropped: number; queued: number; events: number; lines: number };
  shutdownMs: Record<string, number>;
  failures: string[];
}

/** Runs the soak; resolves with the report (its `failures` empty when every check held). Never leaves a process. */
export async function runMixedLoad(cfg: SoakConfig): Promise<SoakReport> {
  const log = cfg.log;
  const dir = tempDir('soak');
  const failures: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) {
      failures.push(what);
      log(`FAIL ${what}`);
    }
  };
  const sinks = NODE_NAMES.map(() => new TrafficSink());
  const targets: TrafficTarget[] = await Promise.all(sinks.map((s) => s.open(UDP_PORTS_PER_NODE)));
  const target = (n: NodeName) => targets[NODE_NAMES.indexOf(n)]!;
  const nodes = new Map<NodeName, ServedProcess>();
  let relay: RelayProcess | undefined;
  const clients: grpc.Client[] = [];
  const counters: FlowCounter[] = [];
  const timers: NodeJS.Timeout[] = [];
  let traffic: TrafficGenerator | undefined;
  const shutdownMs: Record<string, number> = {};
  try {
    // beta and gamma first: alpha's peers file names their ports, and alpha's Peer service is the relay's.
    const [beta, gamma] = await Promise.all(
      (['beta', 'gamma'] as const).map((name) => startNode(name, dir, target(name), [])),
    );
    nodes.set('beta', beta!);
    nodes.set('gamma', gamma!);
    const peersFile = join(dir, 'peers.yaml');
    writePeersFile(
      peersFile,
      (['beta', 'gamma'] as const).map((n) => ({ name: n, address: `127.0.0.1:${nodes.get(n)!.tcpPort}` })),
    );
    const exportFile = join(dir, 'export', 'events.log');
    nodes.set(
      'alpha',
      await startNode('alpha', dir, target('alpha'), [
        '--peers-file',
        peersFile,
        '--export-file-path',
        exportFile,
        '--export-file-max-size-mb',
        '2',
        '--export-file-max-backups',
        '2',
      ]),
    );
    relay = await startRelay(`127.0.0.1:${nodes.get('alpha')!.tcpPort}`, ['--retry-timeout', '2s'], { measured: true });
    const node = (n: NodeName) => nodes.get(n)!;
    await waitUntil(
      async () =>
        sumOf(await scrapeMetrics(relay!.metricsPort), 'hubble_relay_pool_peer_connection_status', {
          status: 'READY',
        }) === 3,
      'the relay to connect to all three nodes',
      30_000,
    );

    // Followers: steady ones spread over the nodes, the sluggish ones on gamma (small ring), churners on alpha.
    const shared = new Map<NodeName, grpc.Client>();
    for (const n of NODE_NAMES) {
      const c = observerClient(`unix://${node(n).socket}`, `shared-${n}`);
      shared.set(n, c);
      clients.push(c);
    }
    const steadyCount = cfg.followers - cfg.sluggish - cfg.churning;
    const steady: Array<{ node: NodeName; counter: FlowCounter }> = [];
    for (let i = 0; i < steadyCount; i++) {
      const n = NODE_NAMES[i % NODE_NAMES.length]!;
      const counter = new FlowCounter(shared.get(n)!, { follow: true });
      steady.push({ node: n, counter });
      counters.push(counter);
    }
    const sluggish: FlowCounter[] = [];
    for (let i = 0; i < cfg.sluggish; i++) {
      const c = observerClient(`unix://${node('gamma').socket}`, `sluggish-${i}`);
      clients.push(c);
      const counter = new FlowCounter(c, { follow: true });
      sluggish.push(counter);
      counters.push(counter);
    }
    let churn: FlowCounter[] = [];
    const churnTotals = { connections: 0, flows: 0, lost: 0 };
    const openChurner = () => {
      churnTotals.connections++;
      return new FlowCounter(shared.get('alpha')!, { follow: true });
    };
    for (let i = 0; i < cfg.churning; i++) churn.push(openChurner());
    const relayClient = observerClient(`127.0.0.1:${relay.port}`, 'relay-client');
    clients.push(relayClient);
    const throughRelay = new FlowCounter(relayClient, { follow: true });
    counters.push(throughRelay);

    const expectedClients: Record<NodeName, number> = { alpha: cfg.churning + 1, beta: 1, gamma: cfg.sluggish + 1 };
    for (const s of steady) expectedClients[s.node]++;
    const gauges = async () => {
      const out: Record<string, number> = {};
      for (const n of NODE_NAMES) out[n] = sumOf(await scrapeMetrics(node(n).metricsPort), 'hubblets_getflows_clients');
      return out;
    };
    await waitUntil(
      async () => {
        const g = await gauges();
        return NODE_NAMES.every((n) => g[n] === expectedClients[n]);
      },
      'every follower (and the relay’s stream to each node) to be open',
      30_000,
      () => JSON.stringify({ expected: expectedClients }),
    );

    // Ten recordings: per node, one of everything it captures, the others one UDP port each.
    const recorders = new Map<NodeName, RecorderClient>();
    for (const n of NODE_NAMES) {
      const r = new RecorderClient(`unix://${node(n).socket}`, grpc.credentials.createInsecure());
      recorders.set(n, r);
      clients.push(r);
    }
    const recordings: RecordingRun[] = [];
    const eventsAtStart = new Map<NodeName, number>();
    const eventsNow = new Map<NodeName, number>();
    const flowsAtStart = new Map<NodeName, number>();
    const flowsNow = new Map<NodeName, number>();
    for (let i = 0; i < cfg.recordings; i++) {
      const n = NODE_NAMES[i % NODE_NAMES.length]!;
      const k = Math.floor(i / NODE_NAMES.length);
      const stream = new RecordStream(recorders.get(n)!);
      if (k === 0) {
        stream.start({
          filesink: { filePrefix: `soak${i}` },
          include: [{ sourceCidr: '0.0.0.0/0', destinationCidr: '0.0.0.0/0', protocol: 0 }],
          maxCaptureLength: 96,
        });
        recordings.push({
          node: n,
          filter: ANY_FILTER,
          stream,
          // Packets only: the lost events a node stores for its capture's kernel drops are events, not packets.
          expected: () => flowsNow.get(n)! - flowsAtStart.get(n)!,
        });
      } else {
        const port = target(n).udpPorts[(k - 1) % UDP_PORTS_PER_NODE]!;
        stream.start({
          filesink: { filePrefix: `soak${i}` },
          include: [
            { sourceCidr: '127.0.0.1/32', destinationCidr: '127.0.0.1/32', destinationPort: port, protocol: 17 },
          ],
          maxCaptureLength: 96,
        });
        recordings.push({
          node: n,
          filter: `127.0.0.1/32 0 127.0.0.1/32 ${port} UDP`,
          stream,
          expected: () => capturedToPort.get(port) ?? -1,
        });
      }
    }
    await Promise.all(recordings.map((r) => r.stream.running()));

    // Where every count starts: nothing has been captured yet that the followers or recordings could have missed.
    const before = new Map<NodeName, Awaited<ReturnType<typeof scrapeMetrics>>>();
    for (const n of NODE_NAMES) {
      const e = await scrapeMetrics(node(n).metricsPort);
      before.set(n, e);
      eventsAtStart.set(n, sumOf(e, 'hubblets_events_total'));
      flowsAtStart.set(n, sumOf(e, 'hubblets_events_total', { kind: 'flow' }));
    }

    const sampler = new MemorySampler(
      [
        ...NODE_NAMES.map((n) => ({ name: n, metricsPort: node(n).metricsPort, process: node(n) })),
        { name: 'relay', metricsPort: relay.metricsPort, process: relay },
      ],
      cfg.sampleEveryMs,
    );
    traffic = new TrafficGenerator(targets, {
      udpPerSecond: cfg.udpPerSecond,
      udpPayload: 120,
      tcpEveryMs: cfg.tcpEveryMs,
      tcpMessages: 4,
    });
    const loadStart = Date.now();
    const cpuAtStart = process.cpuUsage();
    sampler.start();
    await traffic.start();
    log(
      `soak: ${cfg.durationS}s of load: ${cfg.udpPerSecond} UDP/s and a TCP connection every ${cfg.tcpEveryMs} ms to each of 3 nodes, ` +
        `${cfg.followers} followers (${cfg.sluggish} stalling, ${cfg.churning} reconnecting), ${cfg.recordings} recordings, export, relay client`,
    );
    timers.push(
      setInterval(() => {
        for (const c of churn) {
          churnTotals.flows += c.flows;
          churnTotals.lost += c.lost;
          c.cancel();
        }
        churn = churn.map(() => openChurner());
      }, cfg.churnEveryMs),
    );
    const stallTimer = setInterval(() => {
      for (const s of sluggish) s.call.pause();
      setTimeout(() => {
        for (const s of sluggish) s.call.resume();
      }, cfg.stallMs);
    }, cfg.stallEveryMs);
    timers.push(stallTimer);
    const progress = setInterval(
      () => {
        const elapsed = Math.round((Date.now() - loadStart) / 1000);
        const mem = [...sampler.samples.entries()].map(([n, s]) => `${n} ${mib(s.at(-1)?.rss ?? 0)}`).join(', ');
        log(`soak: ${elapsed}s, ${traffic!.totalSent} datagrams sent; RSS ${mem}`);
      },
      Math.max(10_000, cfg.durationS * 100),
    );
    timers.push(progress);

    await new Promise((r) => setTimeout(r, cfg.durationS * 1000));

    // Stop the load, let every stalled reader go, and wait for the nodes to have taken in all that was sent.
    clearInterval(stallTimer);
    clearInterval(progress);
    for (const t of timers) clearInterval(t);
    await traffic.stop();
    for (const s of sluggish) s.call.resume();
    sampler.stop();
    const loadSeconds = (Date.now() - loadStart) / 1000;
    const cpu = process.cpuUsage(cpuAtStart);
    const clientCpuShare = (cpu.user + cpu.system) / 1e6 / loadSeconds;
    const udpFlows = async (n: NodeName) => {
      const e = await scrapeMetrics(node(n).metricsPort);
      return (
        sumOf(e, 'hubble_flows_processed_total', { protocol: 'UDP' }) -
        sumOf(before.get(n)!, 'hubble_flows_processed_total', { protocol: 'UDP' })
      );
    };
    // Until every datagram is in, or nothing more comes in for two seconds (what the kernel dropped never will).
    let lastTotal = -1;
    let stableSince = Date.now();
    await waitUntil(
      async () => {
        const counts = await Promise.all(NODE_NAMES.map((n) => udpFlows(n)));
        if (counts.every((c, i) => c >= traffic!.sentTo(targets[i]!))) return true;
        const total = counts.reduce((a, b) => a + b, 0);
        if (total !== lastTotal) {
          lastTotal = total;
          stableSince = Date.now();
        }
        return Date.now() - stableSince >= 2000;
      },
      'the nodes to take in what was sent',
      30_000,
    );
    // The ring is quiet now: what each node holds is final. Give the readers their time to catch up.
    for (const n of NODE_NAMES) {
      const e = await scrapeMetrics(node(n).metricsPort);
      eventsNow.set(n, sumOf(e, 'hubblets_events_total'));
      flowsNow.set(n, sumOf(e, 'hubblets_events_total', { kind: 'flow' }));
    }
    const delta = (n: NodeName) => eventsNow.get(n)! - eventsAtStart.get(n)!;
    const expectedFor = (c: FlowCounter, n: NodeName) => c.accounted === delta(n);
    try {
      await waitUntil(
        () =>
          steady.every((s) => expectedFor(s.counter, s.node)) &&
          sluggish.every((s) => expectedFor(s, 'gamma')) &&
          NODE_NAMES.every((n) => {
            const t = throughRelay.byNode.get(n);
            return t !== undefined && accountedOf(t) === delta(n);
          }),
        'every follower to have received or been told about every event',
        20_000,
      );
    } catch (err) {
      log(`soak: ${(err as Error).message}`);
    }
    for (const c of churn) {
      churnTotals.flows += c.flows;
      churnTotals.lost += c.lost;
    }

    // Stop the recordings: each answers with its final statistics and leaves its file.
    for (const r of recordings) r.stream.stop();
    const stopped = await Promise.all(recordings.map((r) => r.stream.stopped()));
    // What each node captured per UDP port, read from its recording of everything: the kernel may have dropped some
    // of what was sent (uncounted, see maxUncountedCaptureLoss), so a port's recording is held to what was captured.
    const capturedToPort = new Map<number, number>();
    for (const [i, r] of recordings.entries()) {
      if (r.filter !== ANY_FILTER) continue;
      const stats = stopped[i]!.stopped!.stats!;
      if (stats.packetsLost > 0) continue; // then no exact figure per port exists: those checks fail, as they should
      for (const [port, count] of udpPortCounts(stopped[i]!.stopped!.filesink!.filePath))
        capturedToPort.set(port, count);
    }
    const recordingReport: SoakReport['recordings'] = [];
    for (const [i, r] of recordings.entries()) {
      const stats = stopped[i]!.stopped!.stats!;
      const path = stopped[i]!.stopped!.filesink!.filePath;
      let fileRecords = -1;
      try {
        fileRecords = (await tsharkFields(path, ['frame.number'])).length;
      } catch (err) {
        check(false, `tshark cannot read recording ${path}: ${(err as Error).message.split('\n')[0]}`);
      }
      const expected = r.expected();
      recordingReport.push({
        node: r.node,
        filter: r.filter,
        captured: stats.packetsCaptured,
        lost: stats.packetsLost,
        expected,
        fileRecords,
      });
      check(
        stats.packetsCaptured + stats.packetsLost === expected,
        `recording ${r.filter} on ${r.node}: captured ${stats.packetsCaptured} + lost ${stats.packetsLost} != ${expected} matching packets`,
      );
      check(
        fileRecords === stats.packetsCaptured,
        `recording ${path}: ${fileRecords} records in the file, ${stats.packetsCaptured} reported captured`,
      );
    }

    // Every event of every node: in each follower, in the relay client, in the counters.
    const nodesReport: SoakReport['nodes'] = {};
    let uncounted = 0;
    for (const n of NODE_NAMES) {
      const e = await scrapeMetrics(node(n).metricsPort);
      const b = before.get(n)!;
      const d = (name: string, labels: Record<string, string> = {}) => sumOf(e, name, labels) - sumOf(b, name, labels);
      const apiReaderLost = d('hubblets_consumer_lost_events_total', { consumer: 'api_reader' });
      const hubbleRingBufferLost = d('hubble_lost_events_total', { source: 'hubble_ring_buffer' });
      const recorderLost = d('hubblets_consumer_lost_events_total', { consumer: 'recorder' });
      const captureLost = d('hubble_lost_events_total', { source: 'perf_event_ring_buffer' });
      const told =
        steady.filter((s) => s.node === n).reduce((sum, s) => sum + s.counter.lost, 0) +
        (n === 'gamma' ? sluggish.reduce((sum, s) => sum + s.lost, 0) : 0) +
        (n === 'alpha' ? churnTotals.lost : 0) +
        (throughRelay.byNode.get(n)?.lost ?? 0);
      const sent = traffic.sentTo(target(n));
      const flows = await udpFlows(n);
      nodesReport[n] = {
        udpSent: sent,
        udpFlows: flows,
        captureLost,
        events: delta(n),
        apiReaderLost,
        hubbleRingBufferLost,
        lostToldToReaders: told,
        recorderLost,
      };
      // libpcap's kernel ring drops what arrives while the process stalls too long; the node reads pcap_stats and
      // stores the drops as lost events. They cover UDP and TCP alike, so per datagram only a bound holds.
      uncounted += Math.max(0, sent - flows - captureLost);
      check(flows <= sent, `${n}: ${flows} UDP flows captured, more than the ${sent} datagrams sent`);
      check(apiReaderLost === told, `${n}: api_reader lost ${apiReaderLost}, readers were told of ${told}`);
      check(
        hubbleRingBufferLost === apiReaderLost,
        `${n}: hubble_lost_events_total{hubble_ring_buffer} ${hubbleRingBufferLost} != api_reader ${apiReaderLost}`,
      );
      const recordingsLost = recordingReport.filter((r) => r.node === n).reduce((s, r) => s + r.lost, 0);
      check(
        recorderLost === recordingsLost,
        `${n}: recorder lost counter ${recorderLost}, recordings reported ${recordingsLost}`,
      );
      for (const s of steady.filter((x) => x.node === n)) {
        check(
          s.counter.lost > 0 || s.counter.captureLost === captureLost,
          `${n}: a follower that missed nothing was told of ${s.counter.captureLost} packets the capture lost, the counter says ${captureLost}`,
        );
        check(
          s.counter.accounted === delta(n),
          `${n}: a follower received ${s.counter.flows} flows and was told of ${s.counter.lost} lost, of ${delta(n)} events`,
        );
      }
      const t = throughRelay.byNode.get(n) ?? { flows: 0, captureLostEvents: 0, captureLost: 0, lost: 0 };
      check(
        accountedOf(t) === delta(n),
        `relay client: ${t.flows} flows + ${t.captureLostEvents} capture lost events + ${t.lost} lost from ${n}, of ${delta(n)} events`,
      );
    }
    check(
      uncounted <= cfg.maxUncountedCaptureLoss * traffic.totalSent,
      `${uncounted} of ${traffic.totalSent} datagrams were never captured (kernel ring drops, uncounted), more than ${cfg.maxUncountedCaptureLoss * 100}%`,
    );
    for (const s of sluggish) {
      check(
        s.accounted === delta('gamma'),
        `gamma: a stalling follower got ${s.flows} flows + ${s.lost} lost, of ${delta('gamma')}`,
      );
    }
    check(
      sluggish.every((s) => s.lost > 0),
      `every stalling follower was overtaken and told so (lost: ${sluggish.map((s) => s.lost).join(', ')})`,
    );

    // Export: every event of alpha written or counted as dropped; every line whole.
    const ae = await scrapeMetrics(node('alpha').metricsPort);
    const written = sumOf(ae, 'hubblets_export_events_written_total');
    const dropped = sumOf(ae, 'hubblets_export_events_dropped_total');
    const queued = sumOf(ae, 'hubblets_export_queue_events');
    const alphaEvents = sumOf(ae, 'hubblets_events_total');
    check(
      written + dropped + queued === alphaEvents,
      `export: ${written} written + ${dropped} dropped + ${queued} queued != ${alphaEvents} events`,
    );
    let lines = 0;
    for (const f of readdirSync(dirname(exportFile))) {
      const text = readFileSync(join(dirname(exportFile), f), 'utf8');
      for (const line of text.split('\n')) {
        if (line === '') continue;
        lines++;
        try {
          JSON.parse(line);
        } catch {
          check(false, `export file ${f} holds a line that is not JSON: ${line.slice(0, 80)}`);
          break;
        }
      }
      check(text === '' || text.endsWith('\n'), `export file ${f} ends mid-line`);
    }

    // Followers gone: every node's GetFlows gauge back to zero (the relay cancels its node streams too).
    for (const c of counters) c.cancel();
    for (const c of churn) c.cancel();
    try {
      await waitUntil(
        async () => Object.values(await gauges()).every((v) => v === 0),
        'GetFlows clients back to 0',
        10_000,
      );
    } catch (err) {
      check(false, `${(err as Error).message}: ${JSON.stringify(await gauges())}`);
    }

    const memory: Record<string, MemoryTrend> = {};
    for (const [name, samples] of sampler.samples) {
      const trend = memoryTrend(samples, cfg.warmupS, cfg.envelopeWindowS);
      memory[name] = trend;
      check(
        trend.heapSlopeBytesPerMin <= cfg.bounds.heapBytesPerMin,
        `${name}: heap grows ${mib(trend.heapSlopeBytesPerMin)}/min after warm-up (bound ${mib(cfg.bounds.heapBytesPerMin)}/min)`,
      );
      const { rssBytesPerMin, rssGrowthBytes } = cfg.bounds;
      if (rssBytesPerMin !== undefined)
        check(
          trend.rssSlopeBytesPerMin <= rssBytesPerMin,
          `${name}: RSS grows ${mib(trend.rssSlopeBytesPerMin)}/min after warm-up (bound ${mib(rssBytesPerMin)}/min)`,
        );
      if (rssGrowthBytes !== undefined)
        check(
          trend.rssGrowth <= rssGrowthBytes,
          `${name}: RSS rose ${mib(trend.rssGrowth)} after warm-up (bound ${mib(rssGrowthBytes)})`,
        );
    }

    // SIGTERM: each process exits 0 within 5 s.
    const all: Array<[string, ServedProcess | RelayProcess]> = [
      ['relay', relay],
      ...NODE_NAMES.map((n) => [n, node(n)] as [string, ServedProcess]),
    ];
    await Promise.all(
      all.map(async ([name, p]) => {
        const t0 = Date.now();
        const code = await Promise.race([
          p.stop('SIGTERM'),
          new Promise<'late'>((r) => setTimeout(() => r('late'), 5_000)),
        ]);
        shutdownMs[name] = Date.now() - t0;
        check(code === 0, `${name} exited ${code} on SIGTERM`);
      }),
    );

    const report: SoakReport = {
      startedAt: new Date(loadStart).toISOString(),
      machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? '', node: process.version },
      config: {
        durationS: cfg.durationS,
        warmupS: cfg.warmupS,
        sampleEveryMs: cfg.sampleEveryMs,
        envelopeWindowS: cfg.envelopeWindowS,
        udpPerSecond: cfg.udpPerSecond,
        tcpEveryMs: cfg.tcpEveryMs,
        followers: cfg.followers,
        sluggish: cfg.sluggish,
        churning: cfg.churning,
        churnEveryMs: cfg.churnEveryMs,
        stallMs: cfg.stallMs,
        stallEveryMs: cfg.stallEveryMs,
        recordings: cfg.recordings,
        bounds: cfg.bounds,
        maxUncountedCaptureLoss: cfg.maxUncountedCaptureLoss,
      },
      loadSeconds,
      clientCpuShare,
      memory,
      samples: Object.fromEntries(
        [...sampler.samples].map(([n, list]) => [
          n,
          list.map((x) => [x.t, x.rss, x.heapUsed, x.loopLagMax, x.cpuSeconds]),
        ]),
      ),
      traffic: { udpSent: traffic.totalSent, tcpConnections: traffic.tcpConnections, tcpFailures: traffic.tcpFailures },
      uncountedCaptureLoss: uncounted,
      nodes: nodesReport,
      followers: {
        steady: steady.length,
        steadyFlows: steady.reduce((s, x) => s + x.counter.flows, 0),
        sluggishLost: sluggish.map((s) => s.lost),
        churnConnections: churnTotals.connections,
        churnFlows: churnTotals.flows,
        relayClient: Object.fromEntries(
          NODE_NAMES.map((n) => {
            const t = throughRelay.byNode.get(n) ?? { flows: 0, captureLostEvents: 0, captureLost: 0, lost: 0 };
            return [n, { flows: t.flows + t.captureLostEvents, lost: t.lost, expected: delta(n) }];
          }),
        ),
      },
      recordings: recordingReport,
      export: { written, dropped, queued, events: alphaEvents, lines },
      shutdownMs,
      failures,
    };
    mkdirSync(dirname(cfg.outFile), { recursive: true });
    writeFileSync(cfg.outFile, JSON.stringify(report, null, 2) + '\n');
    for (const line of humanReport(report)) log(line);
    return report;
  } finally {
    for (const t of timers) clearInterval(t);
    await traffic?.stop();
    for (const c of counters) c.cancel();
    for (const c of clients) c.close();
    await Promise.all([relay, ...nodes.values()].map((p) => p?.stop('SIGKILL')));
    await Promise.all(sinks.map((s) => s.close()));
  }
}

function startNode(name: NodeName, dir: string, t: TrafficTarget, extra: string[]): Promise<ServedProcess> {
  return startServe({
    name,
    dir,
    sources: [`live:lo:${t.bpf}`],
    tcp: true,
    extra: ['--buffer-capacity', String(RING[name]), '--metrics', 'flow', ...extra],
    measured: true,
  });
}

/** The short human-readable summary. */
export function humanReport(r: SoakReport): string[] {
  const lines = [
    `soak report (${r.machine.cores} cores, ${r.machine.cpu}, node ${r.machine.node}): ${r.loadSeconds.toFixed(0)} s of load, warm-up ${r.config.warmupS} s`,
    `  clients (this process): CPU ${(r.clientCpuShare * 100).toFixed(0)}% of a core`,
    `  traffic: ${r.traffic.udpSent} UDP datagrams, ${r.traffic.tcpConnections} TCP connections (${r.traffic.tcpFailures} failed); ` +
      `${r.uncountedCaptureLoss} datagrams (${((100 * r.uncountedCaptureLoss) / Math.max(1, r.traffic.udpSent)).toFixed(2)}%) never captured ` +
      `beyond the kernel ring drops the nodes counted`,
  ];
  for (const [n, m] of Object.entries(r.memory)) {
    lines.push(
      `  ${n.padEnd(5)} RSS ${mib(m.rssStart)} -> ${mib(m.rssEnd)} (${mib(m.rssSlopeBytesPerMin)}/min, peak +${mib(m.rssGrowth)}), ` +
        `heap ${mib(m.heapStart)} -> ${mib(m.heapEnd)} (${mib(m.heapSlopeBytesPerMin)}/min, ${m.heapMethod}); ` +
        `CPU ${(m.cpuShare * 100).toFixed(0)}% of a core, loop stalls up to ${m.loopLagMaxMs} ms`,
    );
  }
  for (const [n, x] of Object.entries(r.nodes)) {
    lines.push(
      `  ${n.padEnd(5)} sent ${x.udpSent} UDP, captured ${x.udpFlows}, kernel ring dropped ${x.captureLost} packets; ${x.events} events; readers lost ${x.apiReaderLost} ` +
        `(told ${x.lostToldToReaders}), hubble_ring_buffer ${x.hubbleRingBufferLost}, recorder lost ${x.recorderLost}`,
    );
  }
  lines.push(
    `  followers: ${r.followers.steady} steady (${r.followers.steadyFlows} flows), stalling ones told of ${r.followers.sluggishLost.join(' / ')} lost, ` +
      `${r.followers.churnConnections} reconnections (${r.followers.churnFlows} flows); relay client ` +
      Object.entries(r.followers.relayClient)
        .map(([n, t]) => `${n} ${t.flows}+${t.lost}/${t.expected}`)
        .join(', '),
  );
  lines.push(
    `  recordings: ${r.recordings.map((x) => `${x.captured}+${x.lost}/${x.expected}`).join(', ')} (captured+lost/expected; files agree: ${r.recordings.every((x) => x.fileRecords === x.captured)})`,
  );
  lines.push(
    `  export: ${r.export.written} written, ${r.export.dropped} dropped of ${r.export.events} events; ${r.export.lines} whole lines on disk`,
  );
  lines.push(
    `  SIGTERM: ${Object.entries(r.shutdownMs)
      .map(([n, ms]) => `${n} ${ms} ms`)
      .join(', ')}`,
  );
  lines.push(r.failures.length === 0 ? '  every check held' : `  ${r.failures.length} checks FAILED`);
  return lines;
}

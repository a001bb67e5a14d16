// Ingest benchmarks: the load capture replayed through the parts `hubble-ts serve` uses for a pcap source (pcap
// source -> monitor agent -> parser -> ring), as fast as it goes, at the default ring size and at the largest one;
// beside them, the reference: the same source and agent with nothing consuming, i.e. what reading and framing the
// capture costs on its own. Also the heap held per flow with the largest ring full.
import { readFileSync } from 'node:fs';
import { MAX_RING_CAPACITY } from '../src/observer/ring.js';
import { MonitorAgent } from '../src/monitor/agent.js';
import { loadMetadata } from '../src/observer/metadata/index.js';
import { parseSourceSpec } from '../src/source/source.js';
import { makeNode } from './node.js';

export const DEFAULT_RING = 4095;

export interface IngestResults {
  ingest_events_per_s: number;
  ingest_events_per_s_ring65535: number;
  /** The reference: the capture read and framed into monitor events, with no parser or ring behind the agent. */
  ingest_reference_source_only_events_per_s: number;
  /** CPU time of this process per event at ring 4095 (one core: the pipeline runs on one thread). */
  ingest_cpu_ns_per_event: number;
}

const rate = (n: number) => Math.round(n).toLocaleString('en');

interface Round {
  events: number;
  seconds: number;
  /** CPU time of the whole process (every thread). */
  cpuSeconds: number;
  /** CPU time of the main thread alone: the ingest thread. */
  ingestThreadCpuSeconds: number;
}

/** Linux's USER_HZ: /proc reports threads' CPU time in these ticks. */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time the main thread has used (its /proc/self/task entry: the main thread's id is the process id). */
function mainThreadCpuSeconds(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) in parentheses; utime and stime are the 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

async function timed(replay: () => Promise<number>): Promise<Round> {
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const ingestThread = mainThreadCpuSeconds();
  const events = await replay();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const { user, system } = process.cpuUsage(cpu);
  return {
    events,
    seconds,
    cpuSeconds: (user + system) / 1e6,
    ingestThreadCpuSeconds: mainThreadCpuSeconds() - ingestThread,
  };
}

/** Best of `rounds` full replays into a fresh node. */
async function ingestRounds(capturePath: string, ringCapacity: number, rounds: number, log: (l: string) => void) {
  let best: Round | undefined;
  for (let round = 1; round <= rounds; round++) {
    const { observer, replay } = makeNode(capturePath, ringCapacity);
    const r = await timed(() => replay());
    if (observer.decodeErrors > 0) throw new Error(`${observer.decodeErrors} events could not be decoded`);
    log(
      `ingest, ring ${ringCapacity}, round ${round}: ${rate(r.events)} events in ${r.seconds.toFixed(2)} s = ` +
        `${rate(r.events / r.seconds)} events/s (${((r.cpuSeconds / r.events) * 1e9).toFixed(0)} ns CPU per event)`,
    );
    if (best === undefined || r.events / r.seconds > best.events / best.seconds) best = r;
  }
  return best!;
}

export interface L7IngestResults {
  /**
   * Ingest at ring 4095 with L7 from packets on as serve runs it by default on this machine (--l7 dns,http, parsed in
   * the L7 worker thread): packets replayed per second, their L7 flows in the ring when the clock stops.
   */
  ingest_events_per_s_l7: number;
  /** The same, L3/L4 only (--l7 none), in alternating rounds of the same run. */
  ingest_events_per_s_l4_only: number;
  /** L7 on (worker thread) against L3/L4 only: the target is at least 0.8. */
  l7_ingest_ratio: number;
  /** L7 parsed in the Observer's thread (--l7-thread observer, serve's choice on one CPU). */
  ingest_events_per_s_l7_observer_thread: number;
  l7_ingest_ratio_observer_thread: number;
  /** CPU per packet with L7 on in the worker, both threads (the L3/L4-only figure is ingest_cpu_ns_per_event). */
  l7_cpu_ns_per_event: number;
  /** L7 flows one replay of the load capture yields (HTTP requests and responses, DNS messages). */
  l7_flows_per_replay: number;
  /**
   * Flows into the ring per second with L7 on (worker thread): each packet's L3/L4 flow and every L7 flow, the events
   * Hubble's hubble_flows_processed_total counts. With L3/L4 only it equals the packet rate.
   */
  ingest_flows_per_s_l7: number;
  /** ingest_flows_per_s_l7 against L3/L4 only's flows per second: the cost of an event, not of a packet. */
  l7_ingest_flows_ratio: number;
  /**
   * CPU of the ingest (main) thread alone per packet, in the best round of each mode: L3/L4 only, L7 in the worker
   * thread (the hand-off and writing the L7 flows that come back), L7 in the ingest thread (the parsing itself).
   */
  l7_ingest_thread_cpu_ns_per_packet_l4_only: number;
  l7_ingest_thread_cpu_ns_per_packet_worker: number;
  l7_ingest_thread_cpu_ns_per_packet_observer_thread: number;
}

type L7Mode = 'off' | 'worker' | 'observer';

/**
 * Ingest of the load capture with L7 from packets on (in its worker thread, and in the Observer's thread) against
 * L3/L4 only, at ring 4095, rounds alternating so all see the same machine; best of `rounds` each. The clock runs
 * from the first packet until every L7 flow is in the ring; the worker thread is started before it.
 */
export async function benchL7Ingest(
  capturePath: string,
  rounds: number,
  log: (line: string) => void,
): Promise<L7IngestResults> {
  const best: Record<L7Mode, (Round & { flows: number }) | undefined> = {
    off: undefined,
    worker: undefined,
    observer: undefined,
  };
  const perSecond = (r: Round | undefined) => (r === undefined ? 0 : r.events / r.seconds);
  const flowsPerSecond = (r: { flows: number; seconds: number } | undefined) =>
    r === undefined ? 0 : r.flows / r.seconds;
  let l7Flows = 0;
  for (let round = 1; round <= rounds; round++) {
    for (const mode of ['off', 'worker', 'observer'] as const) {
      const l7 = mode === 'off' ? undefined : { worker: mode === 'worker' };
      const { observer, replay } = makeNode(capturePath, DEFAULT_RING, 'bench', undefined, l7);
      await observer.settled();
      const r = await timed(async () => {
        const events = await replay();
        await observer.settled();
        return events;
      });
      await observer.close();
      if (mode !== 'off') l7Flows = observer.seenFlows - r.events;
      if (perSecond(r) > perSecond(best[mode])) best[mode] = { ...r, flows: observer.seenFlows };
      const label = { off: 'L3/L4 only', worker: 'L7 on, worker thread', observer: 'L7 on, Observer thread' }[mode];
      log(
        `ingest, ring ${DEFAULT_RING}, ${label}, round ${round}: ${rate(perSecond(r))} packets/s, ` +
          `${rate(observer.seenFlows / r.seconds)} flows/s into the ring, ` +
          `${((r.cpuSeconds / r.events) * 1e9).toFixed(0)} ns CPU per packet ` +
          `(${((r.ingestThreadCpuSeconds / r.events) * 1e9).toFixed(0)} in the ingest thread)` +
          (mode !== 'off' ? ` (${rate(observer.seenFlows - r.events)} L7 flows)` : ''),
      );
    }
  }
  const ingestThreadNs = (r: Round | undefined) =>
    r === undefined ? 0 : Math.round((r.ingestThreadCpuSeconds / r.events) * 1e9);
  const ratio = (mode: L7Mode) => Math.round((perSecond(best[mode]) / perSecond(best.off)) * 1000) / 1000;
  return {
    ingest_events_per_s_l7: Math.round(perSecond(best.worker)),
    ingest_events_per_s_l4_only: Math.round(perSecond(best.off)),
    l7_ingest_ratio: ratio('worker'),
    ingest_events_per_s_l7_observer_thread: Math.round(perSecond(best.observer)),
    l7_ingest_ratio_observer_thread: ratio('observer'),
    l7_cpu_ns_per_event: Math.round((best.worker!.cpuSeconds / best.worker!.events) * 1e9),
    l7_flows_per_replay: l7Flows,
    ingest_flows_per_s_l7: Math.round(flowsPerSecond(best.worker)),
    l7_ingest_flows_ratio: Math.round((flowsPerSecond(best.worker) / flowsPerSecond(best.off)) * 1000) / 1000,
    l7_ingest_thread_cpu_ns_per_packet_l4_only: ingestThreadNs(best.off),
    l7_ingest_thread_cpu_ns_per_packet_worker: ingestThreadNs(best.worker),
    l7_ingest_thread_cpu_ns_per_packet_observer_thread: ingestThreadNs(best.observer),
  };
}

/** The source and the agent alone, best of `rounds`. */
async function sourceOnlyRounds(capturePath: string, rounds: number, log: (l: string) => void): Promise<number> {
  let best = 0;
  for (let round = 1; round <= rounds; round++) {
    const metadata = loadMetadata({ clusterName: 'default' });
    const source = parseSourceSpec(`pcap:${capturePath}`, { nodeName: 'bench', links: metadata.linkRegistry });
    const agent = new MonitorAgent();
    const r = await timed(async () => {
      let events = 0;
      await source.run((event) => {
        agent.publish(event);
        events++;
      }, new AbortController().signal);
      return events;
    });
    log(`reference, source alone, round ${round}: ${rate(r.events / r.seconds)} events/s`);
    best = Math.max(best, r.events / r.seconds);
  }
  return best;
}

export async function benchIngest(
  capturePath: string,
  rounds: number,
  log: (line: string) => void,
): Promise<IngestResults> {
  const reference = await sourceOnlyRounds(capturePath, rounds, log);
  const small = await ingestRounds(capturePath, DEFAULT_RING, rounds, log);
  const large = await ingestRounds(capturePath, MAX_RING_CAPACITY, rounds, log);
  return {
    ingest_events_per_s: Math.round(small.events / small.seconds),
    ingest_events_per_s_ring65535: Math.round(large.events / large.seconds),
    ingest_reference_source_only_events_per_s: Math.round(reference),
    ingest_cpu_ns_per_event: Math.round((small.cpuSeconds / small.events) * 1e9),
  };
}

/** Heap held per flow once the largest ring is full, measured with forced collections around the fill. */
export async function benchHeapPerFlow(capturePath: string, log: (line: string) => void): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc (npm run bench does)');
  gc();
  const before = process.memoryUsage();
  const { observer, replay } = makeNode(capturePath, MAX_RING_CAPACITY);
  await replay(MAX_RING_CAPACITY * 2);
  gc();
  const after = process.memoryUsage();
  const held = after.heapUsed - before.heapUsed;
  const outside = after.arrayBuffers - before.arrayBuffers;
  const perFlow = held / observer.ring.len;
  log(
    `heap: ${observer.ring.len} flows in the ring hold ${(held / 2 ** 20).toFixed(1)} MiB = ${Math.round(perFlow)} bytes/flow ` +
      `(and ${Math.round(outside / observer.ring.len)} bytes/flow of buffers outside the heap)`,
  );
  return perFlow;
}

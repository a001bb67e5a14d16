// npm run bench: ingest, GetFlows and recording throughput on a million packets of real loopback load; writes
// bench/results.json.
//
// Ingest replays the capture through the same parts `hubble-ts serve` uses (pcap source -> monitor agent -> parser ->
// ring), as fast as it goes, at the default ring size and at the largest one. GetFlows streams a full ring (65535
// flows) over the unix socket to a client in another process. Heap per flow is measured with the ring full.
// Recording (bench/record.ts): a 5-tuple recording as a whole process against tcpdump on the same input, and the
// sink dispatcher's per-packet cost with 100 concurrent recordings against one. Relay (bench/relay.ts): GetFlows --all
// and --last 65535 through Hubble Relay from three nodes with full rings, against --all from one node directly.
// Metrics (bench/metrics.ts): ingest without and with Hubble's flow metrics, and the metrics hooks' cost per flow.
// Recording, relay and metrics also run alone: node --import tsx bench/record.ts (or bench/relay.ts, bench/metrics.ts).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MAX_RING_CAPACITY } from '../src/observer/ring.js';
import { shutdownApiServer } from '../src/server/grpcServer.js';
import { ensureLoadCapture } from './loadCapture.js';
import { benchMetrics } from './metrics.js';
import { makeNode, serveNode } from './node.js';
import { benchRecording } from './record.js';
import { benchRelay } from './relay.js';

const PACKETS = Number(process.env['BENCH_PACKETS'] ?? 1_000_000);
const DEFAULT_RING = 4095;
const ROUNDS = 3;
const capturePath = join(import.meta.dirname, 'out', `load-${PACKETS}.pcap`);
const resultsPath = join(import.meta.dirname, 'results.json');
const run = promisify(execFile);
const log = (line: string) => process.stdout.write(line + '\n');
const rate = (n: number) => Math.round(n).toLocaleString('en');

/** Best of ROUNDS full replays, in events per second. */
async function benchIngest(ringCapacity: number): Promise<number> {
  let best = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const { observer, replay } = makeNode(capturePath, ringCapacity);
    const start = process.hrtime.bigint();
    const events = await replay();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (observer.decodeErrors > 0) throw new Error(`${observer.decodeErrors} events could not be decoded`);
    log(
      `ingest, ring ${ringCapacity}, round ${round}: ${events} events in ${seconds.toFixed(2)} s = ${rate(events / seconds)} events/s`,
    );
    best = Math.max(best, events / seconds);
  }
  return best;
}

/** Heap held per flow once the largest ring is full, measured with forced collections around the fill. */
async function benchHeapPerFlow(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc (npm run bench does)');
  gc();
  const before = process.memoryUsage().heapUsed;
  const { observer, replay } = makeNode(capturePath, MAX_RING_CAPACITY);
  await replay(MAX_RING_CAPACITY * 2);
  gc();
  const held = process.memoryUsage().heapUsed - before;
  const perFlow = held / observer.ring.len;
  log(
    `heap: ${observer.ring.len} flows in the ring hold ${(held / 2 ** 20).toFixed(1)} MiB = ${Math.round(perFlow)} bytes/flow`,
  );
  return perFlow;
}

/** Streams a full ring to a client process over the unix socket, ROUNDS times; best flows per second. */
async function benchGetFlows(): Promise<number> {
  const { observer, replay } = makeNode(capturePath, MAX_RING_CAPACITY);
  await replay(MAX_RING_CAPACITY * 2);
  const socket = join(mkdtempSync(join(tmpdir(), 'hubble-ts-bench-')), 'hubble.sock');
  const api = await serveNode(observer, 'bench', socket);
  try {
    // execFile keeps this process's event loop free to serve while the client runs.
    const client = join(import.meta.dirname, 'getFlowsClient.ts');
    const { stdout } = await run(process.execPath, [
      '--import',
      'tsx',
      client,
      socket,
      String(observer.ring.len),
      String(ROUNDS),
    ]);
    let best = 0;
    stdout
      .trim()
      .split('\n')
      .forEach((line, i) => {
        const { flows, bytes, seconds } = JSON.parse(line) as { flows: number; bytes: number; seconds: number };
        log(
          `GetFlows round ${i + 1}: ${flows} flows (${(bytes / 2 ** 20).toFixed(1)} MiB) in ${seconds.toFixed(2)} s = ${rate(flows / seconds)} flows/s`,
        );
        best = Math.max(best, flows / seconds);
      });
    return best;
  } finally {
    await shutdownApiServer(api, 100);
  }
}

const machine = `${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
log(`machine: ${machine}`);
await ensureLoadCapture(capturePath, PACKETS, log);
const ingest = await benchIngest(DEFAULT_RING);
const ingestFullRing = await benchIngest(MAX_RING_CAPACITY);
const heap = await benchHeapPerFlow();
const getflows = await benchGetFlows();
const recording = await benchRecording(capturePath, PACKETS, log);
const relay = await benchRelay(capturePath, log);
const metrics = await benchMetrics(capturePath, log);

// Other benchmarks add their own keys to the same file; keep theirs.
const previous = existsSync(resultsPath)
  ? (JSON.parse(readFileSync(resultsPath, 'utf8')) as Record<string, unknown>)
  : {};
const results = {
  ...previous,
  machine,
  packets: PACKETS,
  ingest_events_per_s: Math.round(ingest),
  ingest_events_per_s_ring65535: Math.round(ingestFullRing),
  getflows_flows_per_s: Math.round(getflows),
  heap_bytes_per_flow: Math.round(heap),
  ...recording,
  ...relay,
  ...metrics,
};
writeFileSync(resultsPath, JSON.stringify(results, null, 2) + '\n');
log(`wrote bench/results.json`);

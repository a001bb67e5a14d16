// npm run bench [-- --quick]: every benchmark of the Observer, the recorder and the relay, each beside a named
// reference measured in the same run, on a capture of real loopback load (HTTP from wrk, and UDP); prints what it
// measures as it goes and writes the figures to bench/results.json.
//
//   ingest      source -> monitor agent -> parser -> ring at rings 4095 and 65535 (bench/ingest.ts);
//               reference: the source alone
//   L7 ingest   the same at ring 4095 with L7 from packets on (serve's default) against L3/L4 only (bench/ingest.ts)
//   heap        heap held per flow with the 65535 ring full
//   getflows    65535 flows to a client in another process over the unix socket (bench/getFlows.ts);
//               reference: a bare grpc-js server writing ready-made responses
//   followers   ingest with 50 --follow streams open against ingest with none (bench/followers.ts)
//   recording   a 5-tuple recording as a whole process against tcpdump -r/-w; 100 recordings against one
//               (bench/record.ts)
//   relay       GetFlows --all through Hubble Relay from 3 nodes against one node directly (bench/relay.ts)
//   metrics     ingest with Hubble's flow metrics against without (bench/metrics.ts)
//   filters     5,000 filters in one request, per flow read, against one filter (bench/filters.ts)
//   idle RSS    `hubble-ts serve` from dist/ with a full 4095 ring, sitting idle; reference: a bare node process
//   latency     live capture on lo to a follower, 50,000 packets/s; p50 and p99 (bench/latency.ts)
//
// The full run replays 2 million packets, best of 3 rounds, in under ten minutes; --quick replays 300,000 once, in
// under three. Recording, relay and metrics also run alone: node --import tsx bench/record.ts (relay.ts, metrics.ts).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { benchFilters } from './filters.js';
import { benchFollowers } from './followers.js';
import { benchGetFlows } from './getFlows.js';
import { benchIdleRss } from './idleRss.js';
import { benchHeapPerFlow, benchIngest, benchL7Ingest } from './ingest.js';
import { benchLatency } from './latency.js';
import { ensureLoadCapture } from './loadCapture.js';
import { benchMetrics } from './metrics.js';
import { benchRecording } from './record.js';
import { benchRelay } from './relay.js';

const quick = process.argv.includes('--quick');
const PACKETS = Number(process.env['BENCH_PACKETS'] ?? (quick ? 300_000 : 2_000_000));
const ROUNDS = quick ? 1 : 3;
const LATENCY = { rate: 50_000, seconds: quick ? 5 : 15 };
const capturePath = join(import.meta.dirname, 'out', `load-${PACKETS}.pcap`);
const resultsPath = join(import.meta.dirname, 'results.json');
const log = (line: string) => process.stdout.write(line + '\n');

const began = Date.now();
const machine = {
  cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
};
log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}`);
await ensureLoadCapture(capturePath, PACKETS, log);

const ingest = await benchIngest(capturePath, ROUNDS, log);
const l7Ingest = await benchL7Ingest(capturePath, ROUNDS, log);
const heap = await benchHeapPerFlow(capturePath, log);
const getflows = await benchGetFlows(capturePath, 2 * ROUNDS, log); // a round is a fraction of a second: more of them
const followers = await benchFollowers(capturePath, quick ? 1 : 3, log);
const recording = await benchRecording(capturePath, PACKETS, log);
const relay = await benchRelay(capturePath, log);
const metrics = await benchMetrics(capturePath, log);
const filters = benchFilters(log);
const idle = await benchIdleRss(capturePath, log);
const latency = await benchLatency(LATENCY, log);

// Other benchmarks (bench/export.ts) add their own keys to the same file; keep theirs.
const previous = existsSync(resultsPath)
  ? (JSON.parse(readFileSync(resultsPath, 'utf8')) as Record<string, unknown>)
  : {};
const results = {
  ...previous,
  machine,
  packets: PACKETS,
  quick,
  ...ingest,
  ...l7Ingest,
  heap_bytes_per_flow: Math.round(heap),
  ...getflows,
  ...followers,
  ...recording,
  ...relay,
  ...metrics,
  ...filters,
  ...idle,
  ...latency,
};
writeFileSync(resultsPath, JSON.stringify(results, null, 2) + '\n');
log(`wrote bench/results.json (${((Date.now() - began) / 1000).toFixed(0)} s)`);

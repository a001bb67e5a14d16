// Flow export throughput: node --import tsx bench/export.ts; writes bench/export-results.json.
//
// Replays the benchmark's loopback capture (bench/loadCapture.ts; BENCH_EXPORT_PACKETS packets, 200,000 by default)
// through the pipeline `hubble-ts serve --export-file-path` builds: pcap source -> monitor agent -> Observer with the
// exporter as its onDecodedEvent hook -> rotating export file (default 10 MiB, 5 backups), the replay waiting for
// the exporter between chunks as serve's does. Measures events exported per second and bytes per line, then the
// hook's cost to ingest when the file takes nothing at all (the queue fills, everything after is dropped and counted),
// against the same replay without an exporter.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { FlowExporter, type ExportOptions, type LineFile } from '../src/exporter/exporter.js';
import { MonitorAgent } from '../src/monitor/agent.js';
import { loadMetadata } from '../src/observer/metadata/index.js';
import { Observer } from '../src/observer/observer.js';
import { Parser } from '../src/observer/parser/index.js';
import { parseSourceSpec } from '../src/source/source.js';
import { ensureLoadCapture } from './loadCapture.js';

const PACKETS = Number(process.env['BENCH_EXPORT_PACKETS'] ?? 200_000);
const ROUNDS = 3;
const capturePath = join(import.meta.dirname, 'out', `load-${PACKETS}.pcap`);
const resultsPath = join(import.meta.dirname, 'export-results.json');
const log = (line: string) => process.stdout.write(line + '\n');
const rate = (n: number) => Math.round(n).toLocaleString('en');

/**
 * Replays the capture through a node whose Observer has `exporter` (if any) as its hook; resolves to events. With
 * `wait`, the replay waits for the exporter between chunks as serve's does; without, it goes as a live capture does.
 */
async function replay(exporter: FlowExporter | undefined, wait = true): Promise<number> {
  const metadata = loadMetadata({ clusterName: 'default' });
  const source = parseSourceSpec(`pcap:${capturePath}`, { nodeName: 'bench', links: metadata.linkRegistry });
  const parser = new Parser({
    nodeName: 'bench',
    clusterName: 'default',
    emitter: { name: 'hubble-ts', version: 'bench' },
    ...metadata,
  });
  const observer = new Observer({
    parser,
    ringCapacity: 4095,
    clusterName: 'default',
    hooks: { onDecodedEvent: exporter ? [exporter.onDecodedEvent] : [] },
  });
  const agent = new MonitorAgent();
  agent.register(observer);
  if (exporter && wait) agent.register({ onMonitorEvent: () => undefined, backlog: () => exporter.backlog() });
  let events = 0;
  await source.run(
    (event) => {
      agent.publish(event);
      events++;
    },
    new AbortController().signal,
    () => agent.backlog(),
  );
  return events;
}

function exportOptions(dir: string): ExportOptions {
  return {
    filePath: join(dir, 'events.log'),
    maxSizeBytes: 10 * 1024 * 1024,
    maxBackups: 5,
    compress: false,
    allow: [],
    deny: [],
    fieldMask: [],
  };
}

async function benchExport(): Promise<{ eventsPerS: number; bytesPerLine: number }> {
  let best = 0;
  let bytesPerLine = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-bench-export-'));
    const exporter = await FlowExporter.start(exportOptions(dir), { logger: pino({ level: 'silent' }) });
    const start = process.hrtime.bigint();
    const events = await replay(exporter);
    await exporter.close();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const { written, dropped } = exporter.stats;
    if (written !== events || dropped !== 0) throw new Error(`exported ${written} of ${events}, dropped ${dropped}`);
    const current = readFileSync(join(dir, 'events.log'));
    bytesPerLine = current.length / current.toString().split('\n').length;
    rmSync(dir, { recursive: true, force: true });
    log(`export, round ${round}: ${events} events in ${seconds.toFixed(2)} s = ${rate(events / seconds)} events/s`);
    best = Math.max(best, events / seconds);
  }
  return { eventsPerS: best, bytesPerLine: Math.round(bytesPerLine) };
}

/** A file that never finishes a write: the exporter's queue fills and every later event is dropped. */
const blockedFile: LineFile = { write: () => new Promise(() => undefined), close: async () => undefined };

async function benchHookCost(): Promise<{ withoutNsPerEvent: number; blockedNsPerEvent: number; dropped: number }> {
  let without = Infinity;
  let blocked = Infinity;
  let dropped = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    let start = process.hrtime.bigint();
    const events = await replay(undefined);
    const withoutNs = Number(process.hrtime.bigint() - start) / events;
    const exporter = new FlowExporter(
      { filePath: 'blocked', allow: [], deny: [], fieldMask: [] },
      async () => blockedFile,
      {
        logger: pino({ level: 'silent' }),
      },
    );
    await exporter.openAtStart();
    start = process.hrtime.bigint();
    await replay(exporter, false);
    const blockedNs = Number(process.hrtime.bigint() - start) / events;
    without = Math.min(without, withoutNs);
    blocked = Math.min(blocked, blockedNs);
    dropped = exporter.stats.dropped;
    log(
      `ingest, round ${round}: ${rate(1e9 / withoutNs)} events/s without an exporter, ${rate(1e9 / blockedNs)} events/s with a blocked one (${dropped} dropped)`,
    );
  }
  return { withoutNsPerEvent: without, blockedNsPerEvent: blocked, dropped };
}

await ensureLoadCapture(capturePath, PACKETS, log);
const exported = await benchExport();
const hook = await benchHookCost();
const results = {
  machine: `${cpus()[0]?.model.split(' ').slice(0, 2).join(' ')}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
  packets: PACKETS,
  export_events_per_s: Math.round(exported.eventsPerS),
  export_bytes_per_line: exported.bytesPerLine,
  ingest_events_per_s_without_exporter: Math.round(1e9 / hook.withoutNsPerEvent),
  ingest_events_per_s_blocked_exporter: Math.round(1e9 / hook.blockedNsPerEvent),
  blocked_exporter_dropped: hook.dropped,
};
log(JSON.stringify(results, null, 2));
writeFileSync(resultsPath, JSON.stringify(results, null, 2) + '\n');

// Raw replay throughput of the pcap/pcapng source alone (no monitor, parser or ring): frames/s over a large capture.
// node --import tsx test/source/replayThroughput.ts [FILE] — without FILE, replays bench/out/load-1000000.pcap,
// capturing it first with bench/loadCapture.ts (tcpdump on loopback under load) when it is not there yet.
import { join } from 'node:path';
import { ensureLoadCapture } from '../../bench/loadCapture.js';
import type { MonitorEvent } from '../../src/monitor/types.js';
import { parseSourceSpec } from '../../src/source/source.js';

const log = (line: string) => process.stdout.write(line + '\n');
let path = process.argv[2];
if (path === undefined) {
  path = join(import.meta.dirname, '..', '..', 'bench', 'out', 'load-1000000.pcap');
  await ensureLoadCapture(path, 1_000_000, log);
}

let best = 0;
for (let round = 1; round <= 5; round++) {
  const source = parseSourceSpec(`pcap:${path}`, { nodeName: 'throughput' });
  let bytes = 0;
  // Touch every event the way a consumer would, so none of the work can be skipped.
  const publish = (e: MonitorEvent) => {
    if (e.payload.kind === 'perf') bytes += e.payload.data.length;
  };
  const start = process.hrtime.bigint();
  const summary = await source.run(publish, new AbortController().signal);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const rate = summary.events / seconds;
  best = Math.max(best, rate);
  log(
    `round ${round}: ${summary.events} frames in ${seconds.toFixed(3)} s = ${Math.round(rate).toLocaleString('en')} frames/s, ` +
      `${(summary.bytes / seconds / 1e6).toFixed(0)} MB/s of frames (${(bytes / 1e6).toFixed(0)} MB of events)`,
  );
}
log(`best: ${Math.round(best).toLocaleString('en')} frames/s`);

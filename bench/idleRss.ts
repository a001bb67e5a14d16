// Resident memory of an idle `hubble-ts serve` whose 4095-flow ring is full (it
// replayed the load capture and then sat still), against a bare Node.js process of the same binary in the same run.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { residentMiB, startProduct } from './productProcess.js';

export interface IdleRssResults {
  idle_rss_mb: number;
  idle_rss_bare_node_mb: number;
}

/** Lets a process settle (JIT, GC) before its memory is read. */
const SETTLE_MS = 3000;

export async function benchIdleRss(capturePath: string, log: (line: string) => void): Promise<IdleRssResults> {
  const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-bench-rss-'));
  const serve = await startProduct([
    'serve',
    '--source',
    `pcap:${capturePath}`,
    '--socket-path',
    join(dir, 'hubble.sock'),
    '--recordings-dir',
    join(dir, 'recordings'),
    '--buffer-capacity',
    '4095',
  ]);
  let idle: number;
  try {
    // The whole capture is replayed; the ring holds its last 4095 flows. Then it sits idle.
    await serve.waitFor('source ended', 120_000);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    idle = await residentMiB(serve.child.pid!);
  } finally {
    await serve.stop();
  }
  const bare = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1500));
  const bareMiB = await residentMiB(bare.pid!);
  bare.kill();
  log(
    `idle serve with a full 4095 ring: ${idle.toFixed(1)} MiB resident (a bare node process: ${bareMiB.toFixed(1)} MiB)`,
  );
  return { idle_rss_mb: Math.round(idle * 10) / 10, idle_rss_bare_node_mb: Math.round(bareMiB * 10) / 10 };
}

// Resident memory of an idle `hubble-ts serve` whose 4095-flow ring is full (it replayed the load capture and then sat
// still), against a bare Node.js process of the same binary in the same run: 3 s after the last packet, its L7 worker
// thread still running, and once idle for good, after the worker's idle stop (30 s without packets gives its memory
// back; the next packet starts another).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { residentMiB, startProduct } from './productProcess.js';

export interface IdleRssResults {
  /** Idle past the L7 worker's idle stop: what an idle server holds. */
  idle_rss_mb: number;
  /** 3 s after the last packet, the L7 worker thread still running. */
  idle_rss_l7_worker_running_mb: number;
  idle_rss_bare_node_mb: number;
}

/** Lets a process settle (JIT, GC) before its memory is read. */
const SETTLE_MS = 3000;
/** Past the L7 worker's idle stop (30 s without packets, looked for every 7.5 s). */
const IDLE_MS = 40_000;

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
  let settled: number;
  let idle: number;
  try {
    // The whole capture is replayed; the ring holds its last 4095 flows. Then it sits idle.
    await serve.waitFor('source ended', 120_000);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    settled = await residentMiB(serve.child.pid!);
    await new Promise((r) => setTimeout(r, IDLE_MS - SETTLE_MS));
    idle = await residentMiB(serve.child.pid!);
  } finally {
    await serve.stop();
  }
  const bare = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1500));
  const bareMiB = await residentMiB(bare.pid!);
  bare.kill();
  log(
    `idle serve with a full 4095 ring: ${idle.toFixed(1)} MiB resident after ${IDLE_MS / 1000} s, ` +
      `${settled.toFixed(1)} MiB after ${SETTLE_MS / 1000} s with the L7 worker running ` +
      `(a bare node process: ${bareMiB.toFixed(1)} MiB)`,
  );
  const tenths = (mib: number) => Math.round(mib * 10) / 10;
  return {
    idle_rss_mb: tenths(idle),
    idle_rss_l7_worker_running_mb: tenths(settled),
    idle_rss_bare_node_mb: tenths(bareMiB),
  };
}

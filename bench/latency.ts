// Latency from a packet captured live on loopback to its flow received by a follower: `hubble-ts serve` (from dist/)
// capturing `udp port P` on lo, a sender process at a steady RATE datagrams a second, and a follower process that
// takes for each flow the time it arrived minus the flow's time (the capture time). p50 and p99 over the run.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startProduct } from './productProcess.js';

const run = promisify(execFile);

export interface LatencyResults {
  follow_p50_ms: number;
  follow_p99_ms: number;
  follow_max_ms: number;
  follow_rate_pps: number;
  follow_samples: number;
}

export async function benchLatency(
  options: { rate: number; seconds: number },
  log: (line: string) => void,
): Promise<LatencyResults> {
  const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-bench-latency-'));
  const socket = join(dir, 'hubble.sock');
  const port = 39_000 + Math.floor(Math.random() * 1000);
  const serve = await startProduct([
    'serve',
    '--source',
    `live:lo:udp port ${port}`,
    '--socket-path',
    socket,
    '--recordings-dir',
    join(dir, 'recordings'),
    '--node-name',
    'latency',
  ]);
  try {
    await serve.waitFor('serving Hubble API');
    const tsx = ['--import', 'tsx'];
    const warmup = 1;
    const follower = run(process.execPath, [
      ...tsx,
      join(import.meta.dirname, 'latencyFollower.ts'),
      socket,
      String(port),
      String(options.seconds + warmup + 1),
      String(warmup),
    ]);
    await new Promise((r) => setTimeout(r, 1500)); // the follower connects and its stream opens
    const sender = await run(process.execPath, [
      ...tsx,
      join(import.meta.dirname, 'udpSender.ts'),
      String(port),
      String(options.rate),
      String(options.seconds + warmup),
    ]);
    const { sent } = JSON.parse(sender.stdout) as { sent: number };
    const result = JSON.parse((await follower).stdout) as {
      samples: number;
      p50_ms: number;
      p99_ms: number;
      max_ms: number;
    };
    log(
      `latency, capture to follower, ${options.rate.toLocaleString('en')} packets/s for ${options.seconds} s (${sent.toLocaleString('en')} sent): ` +
        `p50 ${result.p50_ms.toFixed(2)} ms, p99 ${result.p99_ms.toFixed(2)} ms, max ${result.max_ms.toFixed(1)} ms over ${result.samples.toLocaleString('en')} flows`,
    );
    return {
      follow_p50_ms: Math.round(result.p50_ms * 100) / 100,
      follow_p99_ms: Math.round(result.p99_ms * 100) / 100,
      follow_max_ms: Math.round(result.max_ms * 10) / 10,
      follow_rate_pps: options.rate,
      follow_samples: result.samples,
    };
  } finally {
    await serve.stop();
  }
}

// Latency from a packet captured live on loopback to its flow received by a follower: `hubble-ts serve` (from dist/)
// capturing `udp port P` on lo, a sender process at a steady RATE datagrams a second, and a follower process that
// takes for each flow the time it arrived minus the flow's time. p50 and p99 over the run, once with a grpc-js
// follower and once with one that reads HTTP/2 itself. The flow's time is the kernel's capture timestamp, so the
// packet's wait in the kernel's ring and in libpcap is counted. The first second of traffic is left out (warm-up).
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
  /** Events the server said were lost (its lost-event messages) during the measured seconds of the grpc-js run. */
  follow_lost_events: number;
  /** Of them, packets the kernel's capture ring dropped (the rest: the server's ring overran this reader). */
  follow_lost_events_by_capture: number;
  /** The same with a follower that reads HTTP/2 itself (as lean as the Go hubble CLI). */
  follow_http2_client_p50_ms: number;
  follow_http2_client_p99_ms: number;
  follow_http2_client_max_ms: number;
  follow_http2_client_lost_events: number;
}

interface FollowRun {
  sent: number;
  samples: number;
  lost: number;
  lost_by_capture: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
}

/**
 * One run: a follower of `transport` opens its stream, then the sender sends for the warm-up, `seconds` and one more
 * (the follower measures `seconds` after the warm-up, both counted from the first flow it receives).
 */
async function followOnce(
  socket: string,
  port: number,
  options: { rate: number; seconds: number },
  transport: 'grpc-js' | 'http2',
): Promise<FollowRun> {
  const tsx = ['--import', 'tsx'];
  const warmup = 1;
  const follower = run(process.execPath, [
    ...tsx,
    join(import.meta.dirname, 'latencyFollower.ts'),
    socket,
    String(port),
    String(options.seconds),
    String(warmup),
    transport,
  ]);
  await new Promise((r) => setTimeout(r, 1500)); // the follower connects and its stream opens
  const sender = await run(process.execPath, [
    ...tsx,
    join(import.meta.dirname, 'udpSender.ts'),
    String(port),
    String(options.rate),
    String(options.seconds + warmup + 1),
  ]);
  const { sent } = JSON.parse(sender.stdout) as { sent: number };
  return { sent, ...(JSON.parse((await follower).stdout) as Omit<FollowRun, 'sent'>) };
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
    // One run with each follower, the grpc-js one first (the headline) and then the lean one, same server.
    const grpcJs = await followOnce(socket, port, options, 'grpc-js');
    const lean = await followOnce(socket, port, options, 'http2');
    for (const [who, r] of [
      ['grpc-js follower', grpcJs],
      ['lean HTTP/2 follower', lean],
    ] as const) {
      log(
        `latency, capture to ${who}, ${options.rate.toLocaleString('en')} packets/s for ${options.seconds} s (${r.sent.toLocaleString('en')} sent): ` +
          `p50 ${r.p50_ms.toFixed(2)} ms, p99 ${r.p99_ms.toFixed(2)} ms, max ${r.max_ms.toFixed(1)} ms over ${r.samples.toLocaleString('en')} flows ` +
          `(${r.lost.toLocaleString('en')} lost, ${r.lost_by_capture.toLocaleString('en')} of them by the capture)`,
      );
    }
    const ms = (v: number, places: number) => Math.round(v * 10 ** places) / 10 ** places;
    return {
      follow_p50_ms: ms(grpcJs.p50_ms, 2),
      follow_p99_ms: ms(grpcJs.p99_ms, 2),
      follow_max_ms: ms(grpcJs.max_ms, 1),
      follow_rate_pps: options.rate,
      follow_samples: grpcJs.samples,
      follow_lost_events: grpcJs.lost,
      follow_lost_events_by_capture: grpcJs.lost_by_capture,
      follow_http2_client_p50_ms: ms(lean.p50_ms, 2),
      follow_http2_client_p99_ms: ms(lean.p99_ms, 2),
      follow_http2_client_max_ms: ms(lean.max_ms, 1),
      follow_http2_client_lost_events: lean.lost,
    };
  } finally {
    await serve.stop();
  }
}

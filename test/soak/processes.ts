// hubble-ts serve and relay as processes for the soak and the fault tests, each with its metrics endpoint, which is how
// these tests read the counters a user would alert on and the memory of each process (RSS and V8 heap) over time.
import { join } from 'node:path';
import { spawnCli, type CliProcess } from '../harness/cli.js';
import { parseExposition, httpGet, type Exposition } from '../metrics/promText.js';
import { freePort } from '../relay/harness.js';
import type { ProcessSample } from './slope.js';

export interface ServedProcess extends CliProcess {
  name: string;
  /** The unix socket with the full local API. */
  socket: string;
  /** The TCP port of --listen-address (plaintext), when asked for. */
  tcpPort: number | undefined;
  metricsPort: number;
}

/** The metrics URL a process logged when it started serving. */
function metricsPortFrom(stdout: string, marker: string): number {
  const line = stdout.split('\n').find((l) => l.includes(marker));
  const url = (JSON.parse(line!) as { metrics?: string }).metrics;
  if (url === undefined) throw new Error(`no metrics address in: ${line}`);
  return Number(new URL(url).port);
}

export interface ServeSpec {
  name: string;
  dir: string;
  sources: string[];
  /** Serve TCP (plaintext) on 127.0.0.1 at this port, or a free one when true. */
  tcp?: number | boolean;
  extra?: string[];
  /** How long starting may take (the suite runs many processes on two cores). */
  startTimeoutMs?: number;
  /** Start it with MEASURED_NODE_ARGS, for MemorySampler. */
  measured?: boolean;
}

/** `hubble-ts serve` with metrics on a free port, once it serves (and a replayed source, if any, has ended). */
export async function startServe(spec: ServeSpec): Promise<ServedProcess> {
  const socket = join(spec.dir, `${spec.name}.sock`);
  const tcpPort =
    spec.tcp === undefined || spec.tcp === false ? undefined : spec.tcp === true ? await freePort() : spec.tcp;
  const args = ['serve', '--node-name', spec.name, '--socket-path', socket];
  args.push('--recordings-dir', join(spec.dir, `${spec.name}-recordings`));
  for (const s of spec.sources) args.push('--source', s);
  if (tcpPort !== undefined) args.push('--listen-address', `127.0.0.1:${tcpPort}`, '--disable-server-tls');
  args.push('--metrics-address', '127.0.0.1:0', ...(spec.extra ?? []));
  const p = spawnCli(args, { nodeArgs: spec.measured ? MEASURED_NODE_ARGS : [] });
  await p.waitFor((out) => out.includes('serving Hubble API'), spec.startTimeoutMs ?? 30_000, `${spec.name} to serve`);
  return Object.assign(p, {
    name: spec.name,
    socket,
    tcpPort,
    metricsPort: metricsPortFrom(p.stdout(), 'serving Hubble API'),
  });
}

export interface RelayProcess extends CliProcess {
  port: number;
  metricsPort: number;
}

/** `hubble-ts relay` in plaintext on a free port, with metrics, once it serves. */
export async function startRelay(
  peerService: string,
  extra: string[] = [],
  options: { measured?: boolean } = {},
): Promise<RelayProcess> {
  const port = await freePort();
  const p = spawnCli(
    [
      'relay',
      '--peer-service',
      peerService,
      '--listen-address',
      `127.0.0.1:${port}`,
      '--disable-client-tls',
      '--disable-server-tls',
      '--metrics-address',
      '127.0.0.1:0',
      ...extra,
    ],
    { nodeArgs: options.measured ? MEASURED_NODE_ARGS : [] },
  );
  await p.waitFor((out) => out.includes('serving Hubble Relay API'), 30_000, 'the relay to serve');
  return Object.assign(p, { port, metricsPort: metricsPortFrom(p.stdout(), 'serving Hubble Relay API') });
}

/** Scrapes a process's /metrics. */
export async function scrapeMetrics(port: number): Promise<Exposition> {
  const answer = await httpGet(port, '/metrics');
  if (answer.status !== 200) throw new Error(`GET /metrics answered ${answer.status}`);
  return parseExposition(answer.body);
}

/** The sum of every sample of `name` whose labels include `labels`. */
export function sumOf(e: Exposition, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const s of e.samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}

/** Node flags for a measured process: SIGUSR2 then runs a full collection (see collectOnSignal.cjs). */
export const MEASURED_NODE_ARGS = ['--expose-gc', '--require', join(import.meta.dirname, 'collectOnSignal.cjs')];

export interface SampledProcess {
  name: string;
  metricsPort: number;
  /** When given, the process was started with MEASURED_NODE_ARGS: each sample reads its heap after a full collection. */
  process?: CliProcess | undefined;
}

/** The last `soak-memory-after-gc HEAP RSS` line a measured process wrote, with how many it has written. */
function afterGcLine(stderr: string): { count: number; heapUsed: number; rss: number } | undefined {
  const marker = 'soak-memory-after-gc ';
  const at = stderr.lastIndexOf(marker);
  if (at < 0) return undefined;
  const [heapUsed, rss] = stderr
    .slice(at + marker.length, stderr.indexOf('\n', at))
    .split(' ')
    .map(Number);
  let count = 0;
  for (let i = stderr.indexOf(marker); i >= 0; i = stderr.indexOf(marker, i + 1)) count++;
  return { count, heapUsed: heapUsed!, rss: rss! };
}

/** Samples RSS, V8 heap (right after a full collection), loop lag and CPU of processes. */
export class MemorySampler {
  readonly samples = new Map<string, ProcessSample[]>();
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  private inFlight = false;

  constructor(
    private readonly targets: readonly SampledProcess[],
    private readonly everyMs: number,
  ) {
    for (const t of targets) this.samples.set(t.name, []);
  }

  start(): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async sample(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      const t = (Date.now() - this.startedAt) / 1000;
      await Promise.all(this.targets.map((target) => this.sampleOne(target, t)));
    } finally {
      this.inFlight = false;
    }
  }

  private async sampleOne(target: SampledProcess, t: number): Promise<void> {
    let afterGc: { heapUsed: number; rss: number } | undefined;
    if (target.process !== undefined) {
      const p = target.process;
      const seen = afterGcLine(p.stderr())?.count ?? 0;
      try {
        p.child.kill('SIGUSR2');
        const deadline = Date.now() + 2000;
        while (Date.now() < deadline) {
          const line = afterGcLine(p.stderr());
          if (line !== undefined && line.count > seen) {
            afterGc = line;
            break;
          }
          await new Promise((r) => setTimeout(r, 10));
        }
      } catch {
        // gone already
      }
    }
    try {
      const e = await scrapeMetrics(target.metricsPort);
      this.samples.get(target.name)!.push({
        t,
        rss: afterGc?.rss ?? sumOf(e, 'process_resident_memory_bytes'),
        heapUsed: afterGc?.heapUsed ?? sumOf(e, 'nodejs_heap_size_used_bytes'),
        collected: afterGc !== undefined,
        loopLagMax: sumOf(e, 'nodejs_eventloop_lag_max_seconds'),
        cpuSeconds: sumOf(e, 'process_cpu_seconds_total'),
      });
    } catch {
      // A process shutting down answers no more; the samples so far stand.
    }
  }
}

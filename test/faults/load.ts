// What the fault tests share: UDP datagrams sent at a steady rate to a port a live capture watches (with a reader so
// the kernel answers no ICMP), a node's counters read from /metrics, and the forced-GC heap of a measured process.
import { createSocket, type Socket } from 'node:dgram';
import { scrapeMetrics, sumOf, type ServedProcess } from '../soak/processes.js';
import { bindBelowEphemeral } from '../soak/traffic.js';

/** A UDP port on 127.0.0.1 with a reader, and a sender that blasts it. */
export class UdpTarget {
  private constructor(
    private readonly reader: Socket,
    private readonly sender: Socket,
    readonly port: number,
  ) {}

  static async open(): Promise<UdpTarget> {
    const reader = createSocket('udp4');
    reader.on('message', () => undefined);
    const port = await bindBelowEphemeral(reader);
    const sender = createSocket('udp4');
    await bindBelowEphemeral(sender);
    return new UdpTarget(reader, sender, port);
  }

  /** Sends `count` datagrams of `size` bytes at about `perSecond`; resolves with how many the kernel took. */
  async send(count: number, perSecond: number, size = 200, stop?: { stopped: boolean }): Promise<number> {
    const payload = Buffer.alloc(size, 0x62);
    const start = Date.now();
    let sent = 0;
    for (let i = 0; i < count && !stop?.stopped; i++) {
      await new Promise<void>((resolve) =>
        this.sender.send(payload, this.port, '127.0.0.1', (err) => {
          if (!err) sent++;
          resolve();
        }),
      );
      const due = start + ((i + 1) * 1000) / perSecond;
      const wait = due - Date.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    }
    return sent;
  }

  close(): void {
    this.reader.close();
    this.sender.close();
  }
}

/** Events the node decoded and stored so far (every kind). */
export async function eventsOf(node: ServedProcess): Promise<number> {
  return sumOf(await scrapeMetrics(node.metricsPort), 'hubblets_events_total');
}

/** One counter or gauge of a node (summed over the label sets matching `labels`). */
export async function metricOf(
  node: ServedProcess,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  return sumOf(await scrapeMetrics(node.metricsPort), name, labels);
}

/** The heap a measured process (started with `measured: true`) holds after a full collection, and its RSS. */
export async function memoryAfterGc(node: ServedProcess): Promise<{ heapUsed: number; rss: number }> {
  const marker = 'soak-memory-after-gc ';
  const before = node.stderr().split(marker).length;
  node.child.kill('SIGUSR2');
  const deadline = Date.now() + 5000;
  while (node.stderr().split(marker).length === before) {
    if (Date.now() > deadline) throw new Error('the process did not report its memory after a collection');
    await new Promise((r) => setTimeout(r, 10));
  }
  const text = node.stderr();
  const at = text.lastIndexOf(marker);
  const [heapUsed, rss] = text
    .slice(at + marker.length, text.indexOf('\n', at))
    .split(' ')
    .map(Number);
  return { heapUsed: heapUsed!, rss: rss! };
}

export const MiB = 1024 * 1024;

// Real traffic on loopback for live capture: UDP datagrams at a steady rate to ports that a socket reads (so the kernel
// answers no ICMP), counted exactly as they are sent, and TCP echo connections opened and closed over and over.
import { createSocket, type Socket } from 'node:dgram';
import { connect, createServer, type Server, type Socket as TcpSocket } from 'node:net';

/**
 * Binds a UDP socket on 127.0.0.1 to a free port below Linux's ephemeral range (32768+), where other tests pick their
 * fixed capture ports: a soak blasting thousands of datagrams must never land in another test's capture.
 */
export async function bindBelowEphemeral(socket: Socket): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(port, '127.0.0.1', () => {
          socket.off('error', reject);
          resolve();
        });
      });
      return port;
    } catch (err) {
      if (attempt > 50) throw err;
    }
  }
}

/** One node's share of the traffic: the ports it captures. */
export interface TrafficTarget {
  udpPorts: number[];
  tcpPort: number;
  /** A BPF filter that captures exactly this target's traffic. */
  bpf: string;
}

/** Binds `udpCount` UDP readers and a TCP echo server on 127.0.0.1 for one node's traffic. */
export class TrafficSink {
  private readonly sockets: Socket[] = [];
  private server: Server | undefined;
  target!: TrafficTarget;

  async open(udpCount: number): Promise<TrafficTarget> {
    const udpPorts: number[] = [];
    for (let i = 0; i < udpCount; i++) {
      const s = createSocket('udp4');
      s.on('message', () => undefined);
      udpPorts.push(await bindBelowEphemeral(s));
      this.sockets.push(s);
    }
    const server = createServer((sock) => {
      sock.on('data', (d) => sock.write(d));
      sock.on('error', () => undefined);
    });
    let tcpPort = 0;
    for (let attempt = 0; tcpPort === 0; attempt++) {
      const port = 20_000 + Math.floor(Math.random() * 12_000);
      tcpPort = await new Promise<number>((resolve, reject) => {
        server.once('error', (err) => (attempt > 50 ? reject(err) : resolve(0)));
        server.listen(port, '127.0.0.1', () => resolve(port));
      });
    }
    server.removeAllListeners('error');
    this.server = server;
    const udp = udpPorts.map((p) => `udp dst port ${p}`).join(' or ');
    this.target = { udpPorts, tcpPort, bpf: `${udp} or tcp port ${tcpPort}` };
    return this.target;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.close();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

export interface TrafficOptions {
  /** UDP datagrams per second to each target (spread over its ports). */
  udpPerSecond: number;
  /** Payload bytes of each datagram. */
  udpPayload: number;
  /** One TCP echo connection to each target this often (0: none). */
  tcpEveryMs: number;
  /** Messages echoed on each TCP connection. */
  tcpMessages: number;
}

/** Drives traffic to every target until stop(); counts every datagram the kernel took, per port. */
export class TrafficGenerator {
  /** Datagrams sent, by destination port. */
  readonly sentByPort = new Map<number, number>();
  tcpConnections = 0;
  tcpFailures = 0;
  private readonly senders: Socket[] = [];
  private timers: NodeJS.Timeout[] = [];
  private inFlight = new Set<Promise<void>>();
  private stopped = false;
  private startedAt = 0;
  private due = 0;

  constructor(
    private readonly targets: readonly TrafficTarget[],
    private readonly opts: TrafficOptions,
  ) {
    for (const t of targets) for (const p of t.udpPorts) this.sentByPort.set(p, 0);
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.targets.length; i++) {
      const s = createSocket('udp4');
      await bindBelowEphemeral(s);
      this.senders.push(s);
    }
    this.startedAt = Date.now();
    // Every 20 ms, whatever the rate says is due by now: a late tick catches up instead of lowering the rate.
    this.timers.push(setInterval(() => this.tick(), 20));
    if (this.opts.tcpEveryMs > 0) {
      this.timers.push(
        setInterval(() => {
          for (const t of this.targets) this.track(this.tcpConnection(t.tcpPort));
        }, this.opts.tcpEveryMs),
      );
    }
  }

  private tick(): void {
    if (this.stopped) return;
    const elapsed = (Date.now() - this.startedAt) / 1000;
    const target = Math.floor(elapsed * this.opts.udpPerSecond);
    const payload = Buffer.alloc(this.opts.udpPayload, 0x61);
    for (; this.due < target; this.due++) {
      for (const [i, t] of this.targets.entries()) {
        const port = t.udpPorts[this.due % t.udpPorts.length]!;
        this.track(
          new Promise<void>((resolve) =>
            this.senders[i]!.send(payload, port, '127.0.0.1', (err) => {
              if (!err) this.sentByPort.set(port, this.sentByPort.get(port)! + 1);
              resolve();
            }),
          ),
        );
      }
    }
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async tcpConnection(port: number): Promise<void> {
    // From a port below the ephemeral range too (see bindBelowEphemeral); a port still in TIME_WAIT is tried again.
    let sock: TcpSocket;
    for (let attempt = 0; ; attempt++) {
      sock = connect({
        port,
        host: '127.0.0.1',
        localAddress: '127.0.0.1',
        localPort: 20_000 + Math.floor(Math.random() * 12_000),
      });
      try {
        await new Promise<void>((resolve, reject) => {
          sock.once('connect', resolve);
          sock.once('error', reject);
        });
        break;
      } catch {
        sock.destroy();
        if (attempt >= 5) {
          this.tcpFailures++;
          return;
        }
      }
    }
    try {
      for (let i = 0; i < this.opts.tcpMessages; i++) {
        sock.write(`message ${i}\n`);
        await new Promise((r) => sock.once('data', r));
      }
      await new Promise<void>((r) => sock.end(r));
      this.tcpConnections++;
    } catch {
      this.tcpFailures++;
    } finally {
      sock.destroy();
    }
  }

  /** Datagrams sent to a target's ports. */
  sentTo(target: TrafficTarget): number {
    return target.udpPorts.reduce((n, p) => n + this.sentByPort.get(p)!, 0);
  }

  get totalSent(): number {
    let n = 0;
    for (const v of this.sentByPort.values()) n += v;
    return n;
  }

  /** Stops sending and waits for what is in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await Promise.all([...this.inFlight]);
    for (const s of this.senders.splice(0)) s.close();
  }
}

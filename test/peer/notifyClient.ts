// A Notify subscriber for tests: collects every ChangeNotification a real gRPC stream delivers, waits for a count,
// and reports how the stream ended (status code and details).
import * as grpc from '@grpc/grpc-js';
import { ChangeNotificationType, PeerClient, type ChangeNotification } from '../../src/api/peer/peer.js';

/** What tests compare: "ADDED alpha 10.0.0.1:4244 tls=alpha.default.hubble-grpc.cilium.io". */
export function describeNotification(n: ChangeNotification): string {
  const type = ChangeNotificationType[n.type]!.replace(/^PEER_/, '');
  return `${type} ${n.name} ${n.address}${n.tls === undefined ? '' : ` tls=${n.tls.serverName}`}`;
}

export interface Ended {
  code: grpc.status;
  details: string;
}

export class NotifySubscriber {
  readonly received: ChangeNotification[] = [];
  readonly call: grpc.ClientReadableStream<ChangeNotification>;
  /** Resolves when the stream ends: OK, or the error status the server sent. */
  readonly ended: Promise<Ended>;
  private waiters: (() => void)[] = [];

  constructor(
    readonly client: PeerClient,
    options: Partial<grpc.CallOptions> = {},
  ) {
    this.call = client.notify({}, options);
    this.call.on('data', (n: ChangeNotification) => {
      this.received.push(n);
      for (const w of this.waiters) w();
    });
    this.ended = new Promise<Ended>((resolve) => {
      this.call.on('status', (s: grpc.StatusObject) => {
        resolve({ code: s.code, details: s.details });
        for (const w of this.waiters) w();
      });
    });
    // The status event carries the outcome; an 'error' without a listener would crash the test process.
    this.call.on('error', () => undefined);
  }

  /** The notifications so far, described. */
  get lines(): string[] {
    return this.received.map(describeNotification);
  }

  /** Waits until `count` notifications arrived in all; rejects after `timeoutMs` saying what did arrive. */
  async waitForCount(count: number, timeoutMs = 5000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`expected ${count} notifications, got ${this.received.length}:\n${this.lines.join('\n')}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.waiters = [];
    }
    return this.lines;
  }

  /** Waits for `more` notifications after the ones already here and returns just those. */
  async next(more: number, timeoutMs = 5000): Promise<string[]> {
    const from = this.received.length;
    await this.waitForCount(from + more, timeoutMs);
    return this.lines.slice(from);
  }

  cancel(): void {
    this.call.cancel();
  }
}

export function unixPeerClient(socket: string): PeerClient {
  return new PeerClient(`unix://${socket}`, grpc.credentials.createInsecure());
}

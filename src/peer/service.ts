// The peer.Peer gRPC service: Notify streams every known peer as PEER_ADDED, then each change, to each client through
// its own bounded queue. A client that stops reading is cut off when its queue is full, as upstream does, so a slow
// or stuck client costs a bounded amount of memory and never holds the others back.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ChangeNotification, ChangeNotificationType, type NotifyRequest, type PeerServer } from '../api/peer/peer.js';
import type { PeerDirectory } from './directory.js';
import type { Peer } from './source.js';

/** Upstream's MaxSendBufferSize: room for the initial burst of a large cluster's PEER_ADDED notifications. */
export const DEFAULT_MAX_QUEUED_NOTIFICATIONS = 65_536;

/**
 * Upstream answers a client whose buffer overflowed with this error (status UNKNOWN, as grpc-go sends a plain
 * error); relays log it and subscribe again.
 */
export const SEND_BLOCKED_MESSAGE = 'server stream send was blocked for too long';

export interface PeerServiceOptions {
  /** Notifications a client may leave unread before its stream is closed with an error. */
  maxQueuedNotifications?: number;
  logger?: Logger;
}

export function toChangeNotification(type: ChangeNotificationType, peer: Peer): ChangeNotification {
  return {
    name: peer.name,
    address: peer.address,
    type,
    tls: peer.tlsServerName === undefined ? undefined : { serverName: peer.tlsServerName },
  };
}

type NotifyCall = grpc.ServerWritableStream<NotifyRequest, ChangeNotification>;

/** One Notify call: what grpc-js would not take yet waits in `queue`, up to the limit. */
class NotifyStream {
  private queue: (ChangeNotification | undefined)[] = [];
  private head = 0;
  /** The call's own buffer is past its high-water mark: queue until it drains. */
  private blocked = false;
  private unsubscribe: (() => void) | undefined;
  private ended = false;

  constructor(
    private readonly call: NotifyCall,
    private readonly maxQueued: number,
    private readonly onEnded: (stream: NotifyStream) => void,
    private readonly logger: Logger | undefined,
  ) {
    call.on('drain', this.onDrain);
    call.once('cancelled', this.release);
    call.once('close', this.release);
  }

  get queued(): number {
    return this.queue.length - this.head;
  }

  subscribe(directory: PeerDirectory): void {
    const unsubscribe = directory.subscribe((type, peer) => this.push(toChangeNotification(type, peer)));
    // The initial burst may already have overflowed the queue and ended the call.
    if (this.ended) unsubscribe();
    else this.unsubscribe = unsubscribe;
  }

  /** Ends the stream with OK: the server is shutting down (upstream's Service.Close). */
  finish(): void {
    if (this.ended) return;
    this.release();
    this.call.end();
  }

  private push(notification: ChangeNotification): void {
    if (this.ended) return;
    if (!this.blocked) {
      this.blocked = !this.call.write(notification);
      return;
    }
    if (this.queued >= this.maxQueued) {
      this.logger?.warn(
        { client: this.call.getPeer(), queued: this.queued },
        'peer change notifications: client is not reading; closing its Notify stream',
      );
      this.release();
      this.call.emit('error', { code: grpc.status.UNKNOWN, details: SEND_BLOCKED_MESSAGE });
      return;
    }
    this.queue.push(notification);
  }

  private readonly onDrain = (): void => {
    this.blocked = false;
    while (this.head < this.queue.length && !this.blocked) {
      const next = this.queue[this.head]!;
      this.queue[this.head++] = undefined;
      this.blocked = !this.call.write(next);
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  };

  /** Drops the subscription and everything queued; idempotent. */
  private readonly release = (): void => {
    if (this.ended) return;
    this.ended = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.queue = [];
    this.head = 0;
    this.call.off('drain', this.onDrain);
    this.onEnded(this);
  };
}

export class PeerService {
  readonly implementation: PeerServer;
  private readonly streams = new Set<NotifyStream>();
  private closed = false;

  constructor(
    private readonly directory: PeerDirectory,
    opts: PeerServiceOptions = {},
  ) {
    const maxQueued = opts.maxQueuedNotifications ?? DEFAULT_MAX_QUEUED_NOTIFICATIONS;
    if (!(maxQueued >= 1)) throw new RangeError('maxQueuedNotifications must be at least 1');
    this.implementation = {
      notify: (call: NotifyCall) => {
        if (this.closed) {
          call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'the server is shutting down' });
          return;
        }
        const stream = new NotifyStream(call, maxQueued, (s) => this.streams.delete(s), opts.logger);
        this.streams.add(stream);
        stream.subscribe(this.directory);
      },
    };
  }

  /** Notify streams open right now. */
  get clients(): number {
    return this.streams.size;
  }

  /** Notifications waiting for slow clients, over all streams (each stream holds at most the limit). */
  get queuedNotifications(): number {
    let n = 0;
    for (const s of this.streams) n += s.queued;
    return n;
  }

  /** Ends every Notify stream with OK and refuses new ones, so the server can stop without waiting for them. */
  close(): void {
    this.closed = true;
    for (const s of [...this.streams]) s.finish();
  }
}

// Every peer this node knows, merged from its sources, and the ADDED/UPDATED/DELETED changes subscribers hear.
// When two sources name the same peer, the one listed first wins (the peers file before this node's own entry, so
// an operator can say how other machines reach this one); when it stops naming it, the next one's entry shows.
import type { Logger } from 'pino';
import { ChangeNotificationType } from '../api/peer/peer.js';
import { samePeer, type Peer, type PeerSink, type PeerSource } from './source.js';

export type PeerListener = (type: ChangeNotificationType, peer: Peer) => void;

export class PeerDirectory {
  /** What each source reported, in source order. */
  private readonly reported: Map<string, Peer>[];
  /** The winning entry per name, in the order names first appeared. */
  private readonly effective = new Map<string, Peer>();
  private readonly listeners = new Set<PeerListener>();
  private started = false;

  constructor(
    private readonly sources: readonly PeerSource[],
    private readonly logger?: Logger,
  ) {
    this.reported = sources.map(() => new Map());
  }

  /** Starts every source; resolves once each has reported what it knows. Throws what a source throws. */
  async start(): Promise<void> {
    if (this.started) throw new Error('PeerDirectory already started');
    this.started = true;
    for (let i = 0; i < this.sources.length; i++) {
      try {
        await this.sources[i]!.start(this.sinkFor(i));
      } catch (err) {
        for (let j = 0; j <= i; j++) this.sources[j]!.close();
        throw err;
      }
    }
  }

  /**
   * Calls `listener` with PEER_ADDED for every known peer, synchronously, then with every change until the returned
   * function is called.
   */
  subscribe(listener: PeerListener): () => void {
    for (const peer of this.effective.values()) listener(ChangeNotificationType.PEER_ADDED, peer);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  peers(): Peer[] {
    return [...this.effective.values()];
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  /** Stops every source. Subscribers hear nothing more; no deletions are announced for a node shutting down. */
  close(): void {
    this.listeners.clear();
    for (const source of this.sources) source.close();
  }

  private sinkFor(index: number): PeerSink {
    const mine = this.reported[index]!;
    return {
      upsert: (peer) => {
        mine.set(peer.name, peer);
        this.resolve(peer.name);
      },
      remove: (name) => {
        if (mine.delete(name)) this.resolve(name);
      },
    };
  }

  /** Recomputes the winning entry for `name` and tells subscribers if it changed. */
  private resolve(name: string): void {
    let winner: Peer | undefined;
    for (const reported of this.reported) {
      winner = reported.get(name);
      if (winner !== undefined) break;
    }
    const before = this.effective.get(name);
    if (winner === undefined) {
      if (before === undefined) return;
      this.effective.delete(name);
      this.emit(ChangeNotificationType.PEER_DELETED, before);
    } else if (before === undefined) {
      this.effective.set(name, winner);
      this.emit(ChangeNotificationType.PEER_ADDED, winner);
    } else if (!samePeer(before, winner)) {
      this.effective.set(name, winner);
      this.emit(ChangeNotificationType.PEER_UPDATED, winner);
    }
  }

  private emit(type: ChangeNotificationType, peer: Peer): void {
    this.logger?.debug(
      {
        peer: peer.name,
        address: peer.address,
        tlsServerName: peer.tlsServerName,
        change: ChangeNotificationType[type],
      },
      'peer changed',
    );
    for (const listener of this.listeners) listener(type, peer);
  }
}

// Where peers come from: the Peer and PeerSource contracts every source (this node, a peers file, later Kubernetes
// nodes) implements, the diff that turns two snapshots into changes, and a source whose peers are set by code.

/** One Hubble node as the Peer service announces it. */
export interface Peer {
  /** Unique name: the node name, "cluster/node" outside the default cluster (as upstream's node Fullname). */
  readonly name: string;
  /** Where its Observer API answers: "host:port", or "unix:///path" for a node reached over its local socket. */
  readonly address: string;
  /** Present when the peer must be dialled with TLS: the name its certificate is verified against. */
  readonly tlsServerName?: string | undefined;
}

/** What a source tells the directory it feeds; a source owns only the names it reported. */
export interface PeerSink {
  /** A peer appeared, or one of its fields changed. Reporting an unchanged peer is harmless. */
  upsert(peer: Peer): void;
  /** A peer this source reported is gone. */
  remove(name: string): void;
}

/**
 * A source of peers. The directory calls `start` once: the source reports every peer it knows to `sink` before the
 * returned promise resolves (so the first Notify answer is complete), then each change until `close`. A source that
 * cannot start throws (a ConfigError when the user must fix something); one that later fails keeps what it reported.
 */
export interface PeerSource {
  /** For logs, e.g. "this node" or "peers file /etc/hubble-ts/peers.yaml". */
  readonly description: string;
  start(sink: PeerSink): Promise<void>;
  /** Stops reporting and releases watches and timers. */
  close(): void;
}

export function samePeer(a: Peer, b: Peer): boolean {
  return a.name === b.name && a.address === b.address && a.tlsServerName === b.tlsServerName;
}

export type PeerChange = { kind: 'remove'; peer: Peer } | { kind: 'upsert'; peer: Peer; added: boolean };

/**
 * The changes that turn `before` into `after`: removals first (in `before`'s order), then additions and changed
 * peers in `after`'s order. Unchanged peers yield nothing, so an edit yields exactly what it changed.
 */
export function diffPeers(before: ReadonlyMap<string, Peer>, after: readonly Peer[]): PeerChange[] {
  const changes: PeerChange[] = [];
  const kept = new Set(after.map((p) => p.name));
  for (const peer of before.values()) if (!kept.has(peer.name)) changes.push({ kind: 'remove', peer });
  for (const peer of after) {
    const old = before.get(peer.name);
    if (old === undefined) changes.push({ kind: 'upsert', peer, added: true });
    else if (!samePeer(old, peer)) changes.push({ kind: 'upsert', peer, added: false });
  }
  return changes;
}

/** Applies a diff to a sink. */
export function applyChanges(sink: PeerSink, changes: readonly PeerChange[]): void {
  for (const c of changes) {
    if (c.kind === 'remove') sink.remove(c.peer.name);
    else sink.upsert(c.peer);
  }
}

/** A source whose peers are whatever `set` last said: this node's own entry, and tests. */
export class StaticPeerSource implements PeerSource {
  private current = new Map<string, Peer>();
  private sink: PeerSink | undefined;

  constructor(
    readonly description: string,
    peers: readonly Peer[] = [],
  ) {
    for (const p of peers) this.current.set(p.name, p);
  }

  async start(sink: PeerSink): Promise<void> {
    this.sink = sink;
    for (const p of this.current.values()) sink.upsert(p);
  }

  /** Replaces the whole set; the directory hears only what changed. */
  set(peers: readonly Peer[]): void {
    const names = new Set<string>();
    for (const p of peers) {
      if (names.has(p.name)) throw new Error(`duplicate peer name ${JSON.stringify(p.name)}`);
      names.add(p.name);
    }
    const changes = diffPeers(this.current, peers);
    this.current = new Map(peers.map((p) => [p.name, p]));
    if (this.sink) applyChanges(this.sink, changes);
  }

  peers(): Peer[] {
    return [...this.current.values()];
  }

  close(): void {
    this.sink = undefined;
  }
}

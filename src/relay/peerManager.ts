// The relay's peer manager: follows the Peer service (Notify, resubscribing with backoff when it goes away) and keeps
// one client connection per peer: dialled within the dial timeout, retried with backoff capped by the retry timeout,
// redialled when it drops. Each peer is connecting, connected or unavailable; every change is logged and announced.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ObserverClient } from '../api/observer/observer.js';
import { ChangeNotificationType, PeerClient, type ChangeNotification } from '../api/peer/peer.js';
import { backoffMs, sleep } from './backoff.js';
import { NodeFlowsChannel } from './nodeFlows.js';
import { peerServiceTlsServerName, peerTlsServerName, relayPeerFrom, samePeerTarget, type RelayPeer } from './peer.js';

/** PEM material for dialling peers with TLS: the CA bundle to verify them (system roots when absent), our client pair. */
export interface ClientTls {
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
}

export type PeerState = 'connecting' | 'connected' | 'unavailable';

/** A peer as requests see it. */
export interface PeerView {
  readonly name: string;
  /** As GetNodes reports it (RelayPeer.nodeAddress). */
  readonly address: string;
  readonly state: PeerState;
  readonly tls: { readonly enabled: boolean; readonly serverName: string };
  /** The Observer client, while connected. */
  readonly client: ObserverClient | undefined;
  /** GetFlows on the peer (nodeFlows.ts), while connected: a new one whenever the peer was dialled again. */
  readonly flows: NodeFlowsChannel | undefined;
}

export interface PeerChange {
  peer: PeerView;
  /** The Peer service deleted it. */
  removed: boolean;
}

/** What the relay's Observer service needs from the manager (tests may pass their own). */
export interface PeerDirectory {
  list(): PeerView[];
  /** Calls `listener` on every state change, addition and removal until the returned function is called. */
  subscribe(listener: (change: PeerChange) => void): () => void;
}

/**
 * The peers once none is still connecting, or as they are at `untilMs` (Date.now() time): as upstream's calls to a
 * node whose connection is being dialled wait for it, a request counts a peer connected or unavailable only once its
 * dial is over.
 */
export function settledPeers(peers: PeerDirectory, untilMs: number): Promise<PeerView[]> {
  const connecting = (list: PeerView[]) => list.some((p) => p.state === 'connecting');
  const now = peers.list();
  if (!connecting(now) || untilMs <= Date.now()) return Promise.resolve(now);
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      unsubscribe();
      resolve(peers.list());
    };
    const timer = setTimeout(done, untilMs - Date.now());
    const unsubscribe = peers.subscribe(() => {
      if (!connecting(peers.list())) done();
    });
  });
}

export interface PeerManagerOptions {
  /** gRPC target of the Peer service: "unix:///path" or "host:port". */
  peerService: string;
  clusterName: string;
  /** undefined: dial peers (and a TCP Peer service) in plaintext. */
  clientTls: ClientTls | undefined;
  dialTimeoutMs: number;
  retryTimeoutMs: number;
  logger: Logger;
}

/**
 * How long a new Notify stream may go quiet before its first burst (every peer, as the Peer service sends on
 * subscribing) is taken as over: peers known from before that it did not announce were deleted meanwhile.
 */
const INITIAL_PEERS_QUIET_MS = 1000;

/** Hubble's clients send large filter lists and receive large flows; keep grpc-go's limits. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export class PeerManager implements PeerDirectory {
  private readonly peers = new Map<string, PeerConnection>();
  private readonly listeners = new Set<(change: PeerChange) => void>();
  private readonly statusListeners = new Set<() => void>();
  private readonly stop = new AbortController();
  private notifyCall: grpc.ClientReadableStream<ChangeNotification> | undefined;
  private connectedToPeerService = false;
  private running: Promise<void> | undefined;

  constructor(private readonly opts: PeerManagerOptions) {}

  start(): void {
    this.running ??= this.followPeerService();
  }

  /** True while a Notify stream to the Peer service is open and answering. */
  get peerServiceConnected(): boolean {
    return this.connectedToPeerService;
  }

  list(): PeerView[] {
    return [...this.peers.values()]
      .map((p) => p.view())
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  subscribe(listener: (change: PeerChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Calls `listener` whenever the Peer service connection or any peer changes (for health). */
  onStatusChange(listener: () => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  async close(): Promise<void> {
    this.stop.abort();
    this.notifyCall?.cancel();
    for (const p of this.peers.values()) p.close();
    this.peers.clear();
    this.listeners.clear();
    this.statusListeners.clear();
    await this.running;
  }

  private announce(change: PeerChange): void {
    for (const l of this.listeners) l(change);
    this.statusChanged();
  }

  private statusChanged(): void {
    for (const l of this.statusListeners) l();
  }

  private async followPeerService(): Promise<void> {
    const { logger, peerService, retryTimeoutMs } = this.opts;
    let attempt = 0;
    while (!this.stop.signal.aborted) {
      const { heard, reason } = await this.subscribeOnce();
      if (this.stop.signal.aborted) return;
      if (heard) attempt = 0;
      const waitMs = backoffMs(attempt++, retryTimeoutMs);
      // The peers stay as they were: when the Peer service answers again it sends every peer; those it no longer
      // lists are removed then (see subscribeOnce).
      logger.warn({ peerService, reason, retryInMs: waitMs }, 'lost the Peer service; subscribing again');
      await sleep(waitMs, this.stop.signal);
    }
  }

  /**
   * One Notify stream, until it ends; `heard` when it delivered anything. The stream starts with every peer the Peer
   * service lists: once that burst is over, a peer known from an earlier stream that it did not list is removed (it
   * was deleted while the relay was not listening; upstream keeps such a peer for good).
   */
  private subscribeOnce(): Promise<{ heard: boolean; reason: string }> {
    const { peerService, clientTls, clusterName, logger } = this.opts;
    const local = peerService.startsWith('unix:');
    const options: grpc.ClientOptions = { 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES };
    let creds = grpc.credentials.createInsecure();
    if (!local && clientTls !== undefined) {
      // As upstream: a remote Peer service (a Kubernetes Service in front of the nodes) is verified as hubble-peer.
      creds = sslCredentials(clientTls);
      const name = peerServiceTlsServerName(clusterName);
      options['grpc.ssl_target_name_override'] = name;
      options['grpc.default_authority'] = name;
    }
    const client = new PeerClient(peerService, creds, options);
    return new Promise((resolve) => {
      let heard = false;
      let settled = false;
      const unconfirmed = new Set(this.peers.keys());
      let burstTimer: NodeJS.Timeout | undefined;
      const burstOver = () => {
        burstTimer = undefined;
        for (const name of unconfirmed) {
          logger.info({ peer: name, peerService }, 'the Peer service no longer lists this peer');
          this.remove(name);
        }
        unconfirmed.clear();
      };
      const inBurst = () => {
        if (unconfirmed.size === 0) return;
        clearTimeout(burstTimer);
        burstTimer = setTimeout(burstOver, INITIAL_PEERS_QUIET_MS);
      };
      const call = client.notify({});
      this.notifyCall = call;
      const up = () => {
        if (this.connectedToPeerService || settled) return;
        this.connectedToPeerService = true;
        logger.info({ peerService }, 'subscribed to the Peer service');
        this.statusChanged();
      };
      const done = (reason: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(burstTimer);
        const wasConnected = this.connectedToPeerService;
        this.connectedToPeerService = false;
        this.notifyCall = undefined;
        if (wasConnected) this.statusChanged();
        client.close();
        resolve({ heard, reason });
      };
      call.on('metadata', () => {
        up();
        if (burstTimer === undefined && !heard) inBurst();
      });
      call.on('data', (cn: ChangeNotification) => {
        if (!heard || burstTimer !== undefined) {
          if (cn.type !== ChangeNotificationType.PEER_DELETED) unconfirmed.delete(cn.name);
          inBurst();
        }
        heard = true;
        up();
        this.apply(cn);
      });
      call.on('error', (err: grpc.ServiceError) => done(describeGrpcError(err)));
      call.on('end', () => done('the Peer service ended the stream'));
    });
  }

  private apply(cn: ChangeNotification): void {
    const { logger } = this.opts;
    if (cn.name === '') {
      logger.warn({ notification: cn }, 'ignoring a peer notification without a name');
      return;
    }
    logger.debug({ name: cn.name, address: cn.address, type: ChangeNotificationType[cn.type] }, 'peer notification');
    switch (cn.type) {
      case ChangeNotificationType.PEER_ADDED:
      case ChangeNotificationType.PEER_UPDATED:
        this.upsert(relayPeerFrom(cn));
        break;
      case ChangeNotificationType.PEER_DELETED:
        this.remove(cn.name);
        break;
      default:
        logger.warn({ name: cn.name, type: cn.type }, 'ignoring a peer notification of unknown type');
    }
  }

  private upsert(peer: RelayPeer): void {
    const existing = this.peers.get(peer.name);
    if (existing !== undefined && samePeerTarget(existing.peer, peer)) return;
    existing?.close();
    const conn = new PeerConnection(peer, this.opts, (view) => this.announce({ peer: view, removed: false }));
    this.peers.set(peer.name, conn);
    this.opts.logger.info(
      { peer: peer.name, address: peer.address, tls: conn.tlsEnabled, serverName: conn.serverName || undefined },
      existing === undefined ? 'peer added' : 'peer updated',
    );
    conn.connect();
  }

  private remove(name: string): void {
    const conn = this.peers.get(name);
    if (conn === undefined) return;
    conn.close();
    this.peers.delete(name);
    this.opts.logger.info({ peer: name }, 'peer removed');
    this.announce({ peer: conn.view(), removed: true });
  }
}

/** One peer's connection: dial within the dial timeout, back off on failure, redial when it drops. */
class PeerConnection {
  readonly tlsEnabled: boolean;
  readonly serverName: string;
  private state: PeerState = 'connecting';
  private client: ObserverClient | undefined;
  private flows: NodeFlowsChannel | undefined;
  private attempts = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly peer: RelayPeer,
    private readonly opts: PeerManagerOptions,
    private readonly changed: (view: PeerView) => void,
  ) {
    const local = peer.target?.startsWith('unix:') ?? false;
    this.tlsEnabled = opts.clientTls !== undefined && !local;
    this.serverName = this.tlsEnabled ? peerTlsServerName(peer, opts.clusterName) : '';
  }

  view(): PeerView {
    return {
      name: this.peer.name,
      address: this.peer.nodeAddress,
      state: this.state,
      tls: { enabled: this.tlsEnabled, serverName: this.serverName },
      client: this.state === 'connected' ? this.client : undefined,
      flows: this.state === 'connected' ? this.flows : undefined,
    };
  }

  connect(): void {
    if (this.closed) return;
    const { logger, dialTimeoutMs, retryTimeoutMs, clientTls } = this.opts;
    const log = { peer: this.peer.name, address: this.peer.address };
    if (this.peer.target === undefined) {
      logger.warn(
        log,
        'peer has no address that can be dialled; it stays unavailable until the Peer service updates it',
      );
      this.setState('unavailable');
      return;
    }
    this.setState('connecting');
    const options: grpc.ClientOptions = {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      // Each peer gets its own connection: one peer's failures must not leak into another's channel.
      'grpc.use_local_subchannel_pool': 1,
    };
    let creds = grpc.credentials.createInsecure();
    if (this.tlsEnabled) {
      creds = sslCredentials(clientTls!);
      options['grpc.ssl_target_name_override'] = this.serverName;
      options['grpc.default_authority'] = this.serverName;
    }
    const client = new ObserverClient(this.peer.target, creds, options);
    this.client = client;
    // Dialling is asking: a ServerStatus call fails fast with the reason (refused, TLS, wrong name), and proves the
    // peer speaks the Observer API before requests are sent its way.
    client.serverStatus({}, new grpc.Metadata(), { deadline: Date.now() + dialTimeoutMs }, (err) => {
      if (this.closed || this.client !== client) return;
      if (err) {
        client.close();
        this.client = undefined;
        const retryInMs = backoffMs(this.attempts++, retryTimeoutMs);
        logger.warn({ ...log, reason: describeGrpcError(err), retryInMs }, 'cannot connect to peer');
        this.setState('unavailable');
        this.retryTimer = setTimeout(() => this.connect(), retryInMs);
        return;
      }
      this.attempts = 0;
      logger.info({ ...log, tls: this.tlsEnabled }, 'connected to peer');
      // Flows come over a connection of their own (dialled on the first GetFlows), with the same credentials.
      this.flows = new NodeFlowsChannel(
        this.peer.target!,
        this.tlsEnabled ? { ...clientTls, serverName: this.serverName } : undefined,
        dialTimeoutMs,
      );
      this.setState('connected');
      this.watch(client);
    });
  }

  /** Redials as soon as the connection leaves READY (the peer went away, or the channel went idle). */
  private watch(client: ObserverClient): void {
    const channel = client.getChannel();
    channel.watchConnectivityState(grpc.connectivityState.READY, Infinity, () => {
      if (this.closed || this.client !== client) return;
      if (channel.getConnectivityState(false) === grpc.connectivityState.READY) return this.watch(client);
      this.opts.logger.warn({ peer: this.peer.name, address: this.peer.address }, 'lost the connection to peer');
      client.close();
      this.client = undefined;
      this.closeFlows();
      this.connect();
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.client?.close();
    this.client = undefined;
    this.closeFlows();
  }

  private closeFlows(): void {
    this.flows?.close();
    this.flows = undefined;
  }

  private setState(state: PeerState): void {
    if (this.state === state) return;
    this.state = state;
    this.changed(this.view());
  }
}

function sslCredentials(tls: ClientTls): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null);
}

/** A failed call in one line: the status name and grpc-js's details (which carry the socket or TLS error). */
export function describeGrpcError(err: grpc.ServiceError): string {
  // grpc-js ends connection failures with ". Resolution note: ..." (empty for plain addresses): noise in a log line.
  const details = (err.details || err.message).replace(/\.? Resolution note:.*$/s, '');
  return `${grpc.status[err.code] ?? err.code}: ${details}`;
}

// A Hubble node as the relay dials it: the Peer service's ChangeNotification turned into a gRPC target and the TLS
// server name to verify, derived as Hubble derives it when the notification carries none.
import type { ChangeNotification } from '../api/peer/peer.js';
import { joinHostPort, parseHostPort } from '../peer/address.js';
import { DEFAULT_CLUSTER_NAME, hubbleTlsServerName } from '../peer/selfPeer.js';

/** Hubble's server port: a peer announced by IP alone is dialled there. */
export const HUBBLE_SERVER_PORT = 4244;

export interface RelayPeer {
  /** Unique name: the node name, "cluster/node" outside the default cluster. */
  name: string;
  /** gRPC target: "host:port" ("[v6]:port"), or "unix:///path"; undefined when the address cannot be dialled. */
  target: string | undefined;
  /** The address as announced, for logs. */
  address: string;
  /**
   * The address GetNodes reports, as upstream reports the address it resolved: "host:port" with Hubble's port filled
   * in for a bare IP, a unix socket as announced, "" when the address cannot be dialled.
   */
  nodeAddress: string;
  /** The TLS server name the Peer service announced ("" when none). */
  announcedServerName: string;
}

/** Reads a notification as upstream's FromChangeNotification does: unix sockets, host:port, or an IP alone. */
export function relayPeerFrom(cn: ChangeNotification): RelayPeer {
  const target = dialTarget(cn.address);
  const local = target?.startsWith('unix://') ?? false;
  return {
    name: cn.name,
    target,
    address: cn.address,
    nodeAddress: target === undefined ? '' : local ? cn.address : target,
    announcedServerName: cn.tls?.serverName ?? '',
  };
}

function dialTarget(address: string): string | undefined {
  if (address === '') return undefined;
  if (address.startsWith('unix://')) return address.length > 'unix://'.length ? address : undefined;
  if (address.startsWith('/') && address.endsWith('.sock')) return `unix://${address}`;
  const hp = parseHostPort(address, true);
  if ('error' in hp) return undefined;
  return joinHostPort(hp.host, hp.port ?? HUBBLE_SERVER_PORT);
}

/**
 * The name the relay verifies a peer's certificate against: the announced one, or else Hubble's
 * "<node>.<cluster>.hubble-grpc.cilium.io" from the peer's name ("cluster/node", or "node" in `localCluster`).
 */
export function peerTlsServerName(peer: RelayPeer, localCluster: string): string {
  if (peer.announcedServerName !== '') return peer.announcedServerName;
  const slash = peer.name.indexOf('/');
  const cluster = slash < 0 ? localCluster || DEFAULT_CLUSTER_NAME : peer.name.slice(0, slash);
  return hubbleTlsServerName(peer.name.slice(slash + 1), cluster);
}

/** The TLS server name of a remote Peer service, as upstream's relay derives it ("hubble-peer.<cluster>..."). */
export function peerServiceTlsServerName(clusterName: string): string {
  return hubbleTlsServerName(PEER_SERVICE_NAME, clusterName);
}

const PEER_SERVICE_NAME = 'hubble-peer';

export function samePeerTarget(a: RelayPeer, b: RelayPeer): boolean {
  return a.address === b.address && a.announcedServerName === b.announcedServerName;
}

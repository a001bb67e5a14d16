// This node as a peer, as upstream announces its own node: named like Hubble names nodes, at the address its Observer
// API is reachable on, with the TLS server name Hubble derives from the node and cluster names when TCP uses TLS.
import { readFileSync } from 'node:fs';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { isWildcardHost, joinHostPort } from './address.js';
import type { Peer } from './source.js';

/** Upstream's default cluster name: names in it carry no "cluster/" prefix. */
export const DEFAULT_CLUSTER_NAME = 'default';

/** The domain under which Hubble derives per-node TLS server names (hubble-grpc.cilium.io). */
export const TLS_SERVER_NAME_SUFFIX = 'hubble-grpc.cilium.io';

/** "node", or "cluster/node" outside the default cluster, as upstream's node Fullname. */
export function peerName(nodeName: string, clusterName: string): string {
  return clusterName === '' || clusterName === DEFAULT_CLUSTER_NAME ? nodeName : `${clusterName}/${nodeName}`;
}

/**
 * "<node>.<cluster>.hubble-grpc.cilium.io", dots in either name turned into hyphens so every node's name sits at the
 * same DNS depth (one wildcard certificate per cluster fits all); "" without a node name. Upstream's TLSServerName.
 */
export function hubbleTlsServerName(nodeName: string, clusterName: string): string {
  if (nodeName === '') return '';
  const cluster = clusterName === '' ? DEFAULT_CLUSTER_NAME : clusterName;
  return `${nodeName.replaceAll('.', '-')}.${cluster.replaceAll('.', '-')}.${TLS_SERVER_NAME_SUFFIX}`;
}

export interface SelfPeerOptions {
  nodeName: string;
  clusterName: string;
  /** The unix socket: this node's address when it has no TCP listener. */
  socketPath: string;
  /** The TCP listener, when there is one. */
  tcp?:
    | {
        /** Host part of --listen-address ("" or a wildcard: every address). */
        listenHost: string;
        /** The port actually bound. */
        port: number;
        tls: boolean;
      }
    | undefined;
  /** --advertise-address: the host (and port) other machines reach this node's TCP listener on. */
  advertise?: { host: string; port: number | undefined } | undefined;
  /** Finds this host's primary address when listening on every address; primaryHostAddress by default. */
  primaryAddress?: () => string | undefined;
}

export interface SelfPeer {
  peer: Peer;
  /** How the address was chosen, for the startup log. */
  addressFrom: 'unix socket' | 'advertise address' | 'listen address' | 'primary address' | 'loopback';
}

/**
 * This node's entry. With a TCP listener: the advertise address if given, else the listen address's host if it
 * names one, else this host's primary address (the one its default route leaves from), with the bound port; TLS
 * when TCP has it. Without one: the unix socket, reachable only from this host (a relay running beside it).
 */
export function selfPeer(opts: SelfPeerOptions): SelfPeer {
  const name = peerName(opts.nodeName, opts.clusterName);
  if (opts.tcp === undefined)
    return { peer: { name, address: `unix://${opts.socketPath}` }, addressFrom: 'unix socket' };
  let host: string;
  let addressFrom: SelfPeer['addressFrom'];
  const listenHost = opts.tcp.listenHost.replace(/^\[(.*)\]$/, '$1');
  if (opts.advertise !== undefined) {
    host = opts.advertise.host;
    addressFrom = 'advertise address';
  } else if (!isWildcardHost(listenHost)) {
    host = listenHost;
    addressFrom = 'listen address';
  } else {
    const primary = (opts.primaryAddress ?? primaryHostAddress)();
    host = primary ?? '127.0.0.1';
    addressFrom = primary === undefined ? 'loopback' : 'primary address';
  }
  const address = joinHostPort(host, opts.advertise?.port ?? opts.tcp.port);
  const peer: Peer = opts.tcp.tls
    ? { name, address, tlsServerName: hubbleTlsServerName(opts.nodeName, opts.clusterName) }
    : { name, address };
  return { peer, addressFrom };
}

/** This host's primary address: see pickPrimaryAddress. */
export function primaryHostAddress(): string | undefined {
  let routes = '';
  try {
    routes = readFileSync('/proc/net/route', 'utf8');
  } catch {
    // Not Linux, or no procfs: fall back to the first usable interface address.
  }
  return pickPrimaryAddress(routes, networkInterfaces());
}

/**
 * The IPv4 address of the interface the default route leaves from (lowest metric first), as operators mean by "the
 * machine's IP"; else the first non-loopback, non-link-local IPv4 address; else such an IPv6 address. Upstream
 * prefers IPv4 the same way. `routes` is /proc/net/route's text.
 */
export function pickPrimaryAddress(
  routes: string,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>,
): string | undefined {
  const defaults = routes
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 8 && f[1] === '00000000' && f[7] === '00000000' && (parseInt(f[3]!, 16) & 1) === 1)
    .sort((a, b) => Number(a[6]) - Number(b[6]));
  const usable = (a: NetworkInterfaceInfo) =>
    !a.internal && (a.family === 'IPv4' ? !a.address.startsWith('169.254.') : !/^fe[89ab]/i.test(a.address));
  for (const route of defaults) {
    const v4 = interfaces[route[0]!]?.find((a) => a.family === 'IPv4' && usable(a));
    if (v4) return v4.address;
  }
  const all = Object.values(interfaces).flatMap((list) => list ?? []);
  return (all.find((a) => a.family === 'IPv4' && usable(a)) ?? all.find((a) => a.family === 'IPv6' && usable(a)))
    ?.address;
}

// Identities of addresses no inventory endpoint claims, as Cilium's ipcache would answer on this node:
// reserved:host for the machine's own addresses, reserved:world (or world-ipv4/world-ipv6 on a dual-stack
// cluster) for everything else.
//
// Numbers and labels follow cilium/cilium pkg/identity (numericidentity.go) and pkg/labels: host 1
// ["reserved:host"], world 2 ["reserved:world"], world-ipv4 9 ["reserved:world-ipv4"], world-ipv6 10
// ["reserved:world-ipv6"]. Cilium hands out 9/10 only when both IPv4 and IPv6 are enabled; a single-stack agent
// (Cilium's default, IPv4 only) puts 0.0.0.0/0 and ::/0 under world 2. We default to the single-stack answer —
// what most Hubble users see and filter on (`--identity 2`, `--label reserved:world`) — and switch to the
// dual-stack pair when the inventory says `dualStack: true`, rather than guessing from this host's addresses,
// which would make the same capture print differently on different machines.
import { networkInterfaces } from 'node:os';
import type { Endpoint } from '../../api/flow/flow.js';
import { canonicalIp } from '../../packet/ipAddress.js';
import type { IdentityGetter, IdentityInfo } from '../parser/getters.js';
import { sharedMessage } from '../../protowire/compiledEncoder.js';
import { coarseNow } from './coarseClock.js';

export const ReservedIdentity = {
  UNKNOWN: 0,
  HOST: 1,
  WORLD: 2,
  UNMANAGED: 3,
  HEALTH: 4,
  INIT: 5,
  REMOTE_NODE: 6,
  KUBE_APISERVER: 7,
  INGRESS: 8,
  WORLD_IPV4: 9,
  WORLD_IPV6: 10,
} as const;

function reserved(identity: number, name: string): Readonly<IdentityInfo> {
  return Object.freeze({ identity, labels: Object.freeze([`reserved:${name}`]) });
}

export const HOST_IDENTITY = reserved(ReservedIdentity.HOST, 'host');
export const WORLD_IDENTITY = reserved(ReservedIdentity.WORLD, 'world');
export const WORLD_IPV4_IDENTITY = reserved(ReservedIdentity.WORLD_IPV4, 'world-ipv4');
export const WORLD_IPV6_IDENTITY = reserved(ReservedIdentity.WORLD_IPV6, 'world-ipv6');

export interface HostIdentitiesOptions {
  /** World as world-ipv4/world-ipv6 (9/10) instead of world (2). */
  dualStack?: boolean;
  /** This machine's addresses; default: os.networkInterfaces(), re-read every `refreshMs`. */
  hostAddresses?: () => readonly string[];
  refreshMs?: number;
  /** Clock for the refresh; default coarseNow (a tenth of a second late at most). */
  now?: () => number;
}

/** reserved:host for this machine's addresses (plus 127.0.0.0/8 and ::1), reserved:world for the rest. */
export class HostIdentities implements IdentityGetter {
  private hosts = new Set<string>();
  private readonly worldV4: Readonly<IdentityInfo>;
  private readonly worldV6: Readonly<IdentityInfo>;
  private readonly hostAddresses: () => readonly string[];
  private readonly refreshMs: number;
  private readonly now: () => number;
  private nextRefresh = 0;

  constructor(options: HostIdentitiesOptions = {}) {
    this.worldV4 = options.dualStack ? WORLD_IPV4_IDENTITY : WORLD_IDENTITY;
    this.worldV6 = options.dualStack ? WORLD_IPV6_IDENTITY : WORLD_IDENTITY;
    this.hostAddresses = options.hostAddresses ?? systemAddresses;
    this.refreshMs = options.refreshMs ?? 30_000;
    this.now = options.now ?? coarseNow;
    this.refresh();
  }

  /** Expects the canonical text the parser prints (dotted quad, RFC 5952); other spellings of a host address read as world. */
  identityOf(ip: string): Readonly<IdentityInfo> {
    if (this.now() >= this.nextRefresh) this.refresh();
    if (this.hosts.has(ip)) return HOST_IDENTITY;
    if (ip.indexOf(':') >= 0) return this.worldV6;
    // 127.0.0.0/8 is all loopback; the kernel answers for every address in it, not only 127.0.0.1.
    if (ip.startsWith('127.')) return HOST_IDENTITY;
    return this.worldV4;
  }

  /** Re-reads this machine's addresses (interfaces come and go; DHCP renumbers). */
  refresh(): void {
    const hosts = new Set<string>(['::1']);
    for (const address of this.hostAddresses()) {
      const canonical = canonicalIp(address);
      if (canonical !== undefined) hosts.add(canonical);
    }
    this.hosts = hosts;
    this.nextRefresh = this.now() + this.refreshMs;
  }
}

/** Every address on this machine's interfaces, as Node reports them. */
export function systemAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) out.push(info.address);
  }
  return out;
}

/**
 * The Endpoint Hubble prints for an address no endpoint claims: its identity and labels, everything else empty
 * (namespace, pod, ID, workloads), as pkg/hubble/parser/common ResolveEndpoint assembles it from the ipcache.
 * Shared and frozen per IdentityInfo object.
 */
export function unclaimedEndpoint(info: Readonly<IdentityInfo>): Readonly<Endpoint> {
  let ep = unclaimed.get(info);
  if (ep === undefined) {
    ep = sharedMessage('flow.Endpoint', {
      ID: 0,
      identity: info.identity,
      clusterName: '',
      namespace: '',
      labels: info.labels as string[],
      podName: '',
      workloads: Object.freeze([]) as unknown as Endpoint['workloads'],
    });
    unclaimed.set(info, ep);
  }
  return ep;
}

const unclaimed = new WeakMap<Readonly<IdentityInfo>, Readonly<Endpoint>>();

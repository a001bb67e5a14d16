// Turns an address (and the identity the datapath reported for it) into a flow.Endpoint, as Hubble's endpoint
// resolver does: a local endpoint that owns the address wins; otherwise the identity of the address; and the
// datapath's identity, when it reported one, overrides what user space believes (it is what policy saw).
// Endpoints are shared between flows and frozen: getters hand out shared objects, and the ones built here are cached.

import type { Endpoint } from '../../api/flow/flow.js';
import type { EndpointGetter, IdentityGetter, IdentityInfo } from './getters.js';
import { sharedMessage } from '../../protowire/compiledEncoder.js';

/** Cilium's label for the cluster an identity belongs to (after its "k8s:" source prefix, if any). */
const CLUSTER_LABEL = 'io.cilium.k8s.policy.cluster=';
/** Identities with this scope are node-local (CIDR identities): Hubble keeps only their longest-prefix cidr label. */
const IDENTITY_SCOPE_MASK = 0xff000000;
const IDENTITY_SCOPE_LOCAL = 0x01000000;
/** Identity-only endpoints cached at most; past that, new identities get fresh objects instead of growing the cache. */
const MAX_CACHED_IDENTITIES = 4096;

const EMPTY: never[] = Object.freeze([]) as unknown as never[];

export class EndpointResolver {
  private readonly byIdentity = new Map<number, Endpoint>();
  private readonly byInfo = new WeakMap<Readonly<IdentityInfo>, Endpoint>();

  constructor(
    private readonly endpoints: EndpointGetter | undefined,
    private readonly identities: IdentityGetter | undefined,
  ) {}

  /** The endpoint for `ip` ("" when the packet has no IP) seen with `datapathIdentity` (0 when not reported). */
  resolve(ip: string, datapathIdentity: number): Endpoint {
    if (ip !== '') {
      const known = this.endpoints?.endpointByIP(ip);
      if (known !== undefined) {
        if (datapathIdentity === 0 || datapathIdentity === known.identity) return known as Endpoint;
        return Object.freeze({ ...known, identity: datapathIdentity }) as Endpoint;
      }
      const info = this.identities?.identityOf(ip);
      if (info !== undefined && (datapathIdentity === 0 || datapathIdentity === info.identity)) {
        return this.endpointOfInfo(info);
      }
    }
    return this.endpointOfIdentity(datapathIdentity);
  }

  private endpointOfInfo(info: Readonly<IdentityInfo>): Endpoint {
    let endpoint = this.byInfo.get(info);
    if (endpoint === undefined) {
      const labels = sortAndFilterLabels(info.labels, info.identity);
      endpoint = sharedMessage('flow.Endpoint', {
        ID: 0,
        identity: info.identity,
        clusterName: clusterNameOf(labels),
        namespace: '',
        labels: Object.freeze(labels) as string[],
        podName: '',
        workloads: EMPTY,
      });
      this.byInfo.set(info, endpoint);
    }
    return endpoint;
  }

  private endpointOfIdentity(identity: number): Endpoint {
    let endpoint = this.byIdentity.get(identity);
    if (endpoint === undefined) {
      endpoint = sharedMessage('flow.Endpoint', {
        ID: 0,
        identity,
        clusterName: '',
        namespace: '',
        labels: EMPTY,
        podName: '',
        workloads: EMPTY,
      });
      if (this.byIdentity.size < MAX_CACHED_IDENTITIES) this.byIdentity.set(identity, endpoint);
    }
    return endpoint;
  }
}

/** Hubble sorts endpoint labels, and for node-local (CIDR) identities keeps only the longest-prefix cidr label. */
export function sortAndFilterLabels(labels: readonly string[], identity: number): string[] {
  let result = labels.slice();
  if ((identity & IDENTITY_SCOPE_MASK) >>> 0 === IDENTITY_SCOPE_LOCAL) {
    let longest: string | undefined;
    let longestBits = -1;
    result = result.filter((label) => {
      if (!label.startsWith('cidr:')) return true;
      const slash = label.lastIndexOf('/');
      const bits = slash < 0 ? -1 : Number(label.slice(slash + 1));
      if (Number.isInteger(bits) && bits > longestBits) {
        longestBits = bits;
        longest = label;
      }
      return false;
    });
    if (longest !== undefined) result.push(longest);
  }
  return result.sort();
}

function clusterNameOf(labels: readonly string[]): string {
  for (const label of labels) {
    // Labels carry their source as a prefix ("k8s:io.cilium...."), or none.
    const key = label.startsWith(CLUSTER_LABEL) ? label : label.slice(label.indexOf(':') + 1);
    if (key.startsWith(CLUSTER_LABEL)) return key.slice(CLUSTER_LABEL.length);
  }
  return '';
}

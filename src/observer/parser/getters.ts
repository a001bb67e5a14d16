// The small read-only interfaces through which metadata reaches the parser, so the parser never knows whether it
// came from a YAML inventory, Kubernetes, or DNS answers seen on the wire. Returned objects are shared between
// flows (they are what makes the ring cheap): callers must never mutate them.

import type { Endpoint, Service } from '../../api/flow/flow.js';
import type { Timestamp } from '../../monitor/types.js';

/** Endpoints known by address or by datapath endpoint id. */
export interface EndpointGetter {
  /** The endpoint that owns `ip` (text form, as in flow.IP), or undefined when no endpoint claims it. */
  endpointByIP(ip: string): Readonly<Endpoint> | undefined;
  /** The local endpoint with this datapath id, or undefined. */
  endpointById(id: number): Readonly<Endpoint> | undefined;
}

/** A security identity and its labels, as Cilium's ipcache answers for an address. */
export interface IdentityInfo {
  identity: number;
  labels: readonly string[];
}

/** The identity of an address no endpoint claims: a CIDR identity, reserved:host, reserved:world, ... */
export interface IdentityGetter {
  identityOf(ip: string): Readonly<IdentityInfo>;
}

/** Names learnt for addresses (from DNS answers seen on the wire), for source_names/destination_names. */
export interface DnsGetter {
  /** Names that resolved to `ip` and have not expired, in alphabetical order; an empty array when none. */
  namesOf(ip: string): readonly string[];
}

/** One DNS response the parser saw: `query` resolved to `ips` (A/AAAA records, CNAME chains followed). */
export interface DnsAnswer {
  query: string;
  ips: readonly string[];
  /** Smallest TTL among the records, in seconds. */
  ttlSeconds: number;
  /** Capture time of the response. */
  at: Timestamp;
}

/** Told about every DNS answer the parser decodes. */
export interface DnsLearner {
  learn(answer: DnsAnswer): void;
}

/** Services by frontend address, for source_service/destination_service. */
export interface ServiceGetter {
  serviceAt(ip: string, port: number): Readonly<Service> | undefined;
}

/** Interface names by index (flow.interface). */
export interface LinkGetter {
  linkName(ifindex: number): string | undefined;
}

/** Everything the parser may ask; each is optional, so tests pass only what they exercise. */
export interface ParserGetters {
  endpoints?: EndpointGetter | undefined;
  identities?: IdentityGetter | undefined;
  dns?: DnsGetter | undefined;
  dnsLearner?: DnsLearner | undefined;
  services?: ServiceGetter | undefined;
  links?: LinkGetter | undefined;
}

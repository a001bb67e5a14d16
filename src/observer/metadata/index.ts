// Where the parser's metadata comes from on a plain Linux host: the --endpoints inventory (endpoints, services),
// this machine's addresses and links (reserved:host, interface names), and DNS answers seen on the wire.
import type {
  DnsGetter,
  DnsLearner,
  EndpointGetter,
  IdentityGetter,
  LinkGetter,
  ServiceGetter,
} from '../parser/getters.js';
import { DnsNameCache } from './dnsNames.js';
import { EndpointTable } from './endpoints.js';
import { HostIdentities } from './identities.js';
import { EMPTY_INVENTORY, readInventory } from './inventory.js';
import { LinkTable, type LinkRegistry } from './links.js';
import { ServiceTable } from './services.js';

export { DnsNameCache, type DnsNameCacheOptions } from './dnsNames.js';
export { EndpointTable } from './endpoints.js';
export { HostIdentities, ReservedIdentity, unclaimedEndpoint } from './identities.js';
export { parseInventory, readInventory, type Inventory } from './inventory.js';
export { LinkTable, type LinkRegistry } from './links.js';
export { ServiceTable } from './services.js';

/** Every getter the parser takes, all present, plus the registry sources tell interface names to. */
export interface Metadata {
  endpoints: EndpointGetter;
  identities: IdentityGetter;
  dns: DnsGetter;
  dnsLearner: DnsLearner;
  services: ServiceGetter;
  links: LinkGetter;
  /** Pass to capture sources: names they learn (pcapng, libpcap) show up in flow.interface. */
  linkRegistry: LinkRegistry;
}

export interface MetadataOptions {
  /** --endpoints; without it no address has an endpoint or a service, and identities are host/world only. */
  endpointsFile?: string | undefined;
  /** --cluster-name: the cluster of inventory endpoints that do not name one. */
  clusterName: string;
}

/** Builds the node's metadata; throws ConfigError when the inventory file is missing or wrong. */
export function loadMetadata(options: MetadataOptions): Metadata {
  const inventory =
    options.endpointsFile === undefined || options.endpointsFile === ''
      ? EMPTY_INVENTORY
      : readInventory(options.endpointsFile, options.clusterName);
  const dns = new DnsNameCache();
  const links = new LinkTable();
  return {
    endpoints: new EndpointTable(inventory.endpoints),
    identities: new HostIdentities({ dualStack: inventory.dualStack }),
    dns,
    dnsLearner: dns,
    services: new ServiceTable(inventory.services),
    links,
    linkRegistry: links,
  };
}

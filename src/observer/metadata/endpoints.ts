// Endpoint lookups over the inventory, per flow and twice: exact addresses hit one Map; everything else is parsed
// once, matched longest-prefix-first, and the answer remembered in a size-capped cache (addresses come from
// packets, so an unbounded memo would be a memory leak anyone could drive).
import type { Endpoint } from '../../api/flow/flow.js';
import { formatIP, ParsedAddr, parseAddrInto } from '../../packet/ipAddress.js';
import type { EndpointGetter } from '../parser/getters.js';
import type { InventoryEndpoint } from './inventory.js';
import { PrefixTable } from '../../packet/prefixTable.js';
import { RecentCache } from './recentCache.js';

export interface EndpointTableOptions {
  /** Distinct non-exact addresses whose answers are remembered; default 65536. */
  cacheSize?: number;
}

export class EndpointTable implements EndpointGetter {
  /** Exact addresses (/32, /128) by canonical text: the common case costs one Map probe. */
  private readonly hosts = new Map<string, Readonly<Endpoint>>();
  private readonly byId = new Map<number, Readonly<Endpoint>>();
  private readonly prefixes = new PrefixTable<Readonly<Endpoint>>();
  private readonly cache: RecentCache<string, Readonly<Endpoint> | null>;
  private readonly addr = new ParsedAddr();

  constructor(entries: readonly InventoryEndpoint[], options: EndpointTableOptions = {}) {
    this.cache = new RecentCache(options.cacheSize ?? 65536);
    for (const { prefixes, endpoint } of entries) {
      for (const prefix of prefixes) {
        // The inventory already refused duplicate prefixes, so add() never meets one here.
        this.prefixes.add(prefix, endpoint);
        if (prefix.bits === (prefix.family === 4 ? 32 : 128))
          this.hosts.set(flatCopy(formatIP(prefix.bytes, 0, prefix.family)), endpoint);
      }
      if (endpoint.ID !== 0) this.byId.set(endpoint.ID, endpoint);
    }
  }

  endpointByIP(ip: string): Readonly<Endpoint> | undefined {
    const host = this.hosts.get(ip);
    if (host !== undefined) return host;
    const cached = this.cache.get(ip);
    if (cached !== undefined) return cached ?? undefined;
    const found = this.match(ip);
    this.cache.set(ip, found ?? null);
    return found;
  }

  endpointById(id: number): Readonly<Endpoint> | undefined {
    return this.byId.get(id);
  }

  /** Answers remembered for non-exact addresses (for tests and metrics). */
  get cachedAddresses(): number {
    return this.cache.size;
  }

  private match(ip: string): Readonly<Endpoint> | undefined {
    if (parseAddrInto(ip, this.addr) !== undefined) return undefined;
    // Also catches other spellings of an exact address ("FD00::0015"), since hosts are in the table too.
    return this.prefixes.lookup(this.addr);
  }
}

/**
 * `text` as one contiguous string. formatIP builds long addresses by concatenation, which V8 keeps as a rope, and a
 * rope key makes every probe of the hosts Map that hits it compare slower (~2 ns of ~8 for IPv6).
 */
function flatCopy(text: string): string {
  return Buffer.from(text, 'latin1').toString('latin1');
}

// Names for addresses, learnt from the DNS answers the parser sees, for flow.source_names/destination_names.
//
// Time is capture time: an answer expires TTL seconds (never less than minTtlSeconds) after the capture timestamp
// it was seen at, and "now" is the latest capture timestamp learnt, so a replayed week-old capture names its
// flows as it did live. (With no new DNS answers the clock stands still and names outlive their TTL until the
// next answer arrives; the caps below still bound what is kept.)
//
// DNS traffic is attacker-controlled, so everything is capped: addresses tracked (least recently answered are
// dropped first), names per address (least recently seen dropped first) and names in total. Names are printed
// as Hubble does: without the trailing dot (Cilium's GetNamesOf trims it), lower-cased as Cilium's DNS cache
// keeps them, and listed alphabetically as Cilium's DNS cache lists them (so one address always reads the same: a
// metric labelled by names counts it under one label value). Which names are kept is by recency.
import type { Timestamp } from '../../monitor/types.js';
import type { DnsAnswer, DnsGetter, DnsLearner } from '../parser/getters.js';

export interface DnsNameCacheOptions {
  /** Addresses tracked; default 16384. */
  maxAddresses?: number;
  /** Names kept per address; default 16. */
  maxNamesPerAddress?: number;
  /** Names kept over all addresses; default 65536. */
  maxNames?: number;
  /** Floor on TTLs, so a TTL of 0 still names the flows that follow the answer; default 60. */
  minTtlSeconds?: number;
}

interface NameEntry {
  name: string;
  seenAtMs: number;
  expiresAtMs: number;
}

interface AddressNames {
  ip: string;
  /** Neighbours in answer recency (newer, older). */
  newer: AddressNames | null;
  older: AddressNames | null;
  /** Most recently seen first. */
  entries: NameEntry[];
  /** What namesOf returns until `entries` change or the clock passes `validUntilMs`; frozen, shared. */
  answer: readonly string[];
  validUntilMs: number;
}

const NO_NAMES: readonly string[] = Object.freeze([]);
const MAX_NAME_LENGTH = 253;
const MAX_ADDRESS_LENGTH = 45;

export class DnsNameCache implements DnsGetter, DnsLearner {
  private readonly byAddress = new Map<string, AddressNames>();
  // Answer recency as a linked list: evicting from a Map's insertion order looks cheap but is not (V8 skips every
  // deleted slot from the front on each keys().next(), ~6 µs per eviction at 16k entries).
  private newest: AddressNames | null = null;
  private oldest: AddressNames | null = null;
  private readonly maxAddresses: number;
  private readonly maxNamesPerAddress: number;
  private readonly maxNames: number;
  private readonly minTtlMs: number;
  private totalNames = 0;
  private nowMs = -Infinity;

  constructor(options: DnsNameCacheOptions = {}) {
    this.maxAddresses = positive(options.maxAddresses ?? 16384, 'maxAddresses');
    this.maxNamesPerAddress = positive(options.maxNamesPerAddress ?? 16, 'maxNamesPerAddress');
    this.maxNames = positive(options.maxNames ?? 65536, 'maxNames');
    if (this.maxNames < this.maxNamesPerAddress) throw new RangeError('maxNames must be at least maxNamesPerAddress');
    this.minTtlMs = (options.minTtlSeconds ?? 60) * 1000;
  }

  learn(answer: DnsAnswer): void {
    const name = normaliseName(answer.query);
    if (name === undefined) return;
    const seenAtMs = toMs(answer.at);
    if (!Number.isFinite(seenAtMs)) return;
    if (seenAtMs > this.nowMs) this.nowMs = seenAtMs;
    const ttl = Number.isFinite(answer.ttlSeconds) && answer.ttlSeconds > 0 ? answer.ttlSeconds * 1000 : 0;
    const expiresAtMs = seenAtMs + Math.max(ttl, this.minTtlMs);
    if (expiresAtMs <= this.nowMs) return; // an old answer replayed after newer ones: already expired
    for (const ip of answer.ips) {
      if (ip.length === 0 || ip.length > MAX_ADDRESS_LENGTH) continue;
      this.add(ip, name, seenAtMs, expiresAtMs);
    }
    this.evict();
  }

  namesOf(ip: string): readonly string[] {
    const names = this.byAddress.get(ip);
    if (names === undefined) return NO_NAMES;
    if (this.nowMs < names.validUntilMs) return names.answer;
    return this.refresh(names);
  }

  /** Addresses and names held now (for tests and metrics). */
  get size(): { addresses: number; names: number } {
    return { addresses: this.byAddress.size, names: this.totalNames };
  }

  private add(ip: string, name: string, seenAtMs: number, expiresAtMs: number): void {
    let names = this.byAddress.get(ip);
    if (names === undefined) {
      names = { ip, newer: null, older: null, entries: [], answer: NO_NAMES, validUntilMs: -Infinity };
      this.byAddress.set(ip, names);
    } else {
      this.unlink(names);
    }
    this.linkNewest(names);
    const entries = names.entries;
    let entry: NameEntry | undefined;
    const at = entries.findIndex((e) => e.name === name);
    if (at >= 0) {
      entry = entries[at]!;
      entries.splice(at, 1);
      entry.seenAtMs = Math.max(entry.seenAtMs, seenAtMs);
      entry.expiresAtMs = Math.max(entry.expiresAtMs, expiresAtMs);
    } else {
      entry = { name, seenAtMs, expiresAtMs };
      this.totalNames++;
      if (entries.length >= this.maxNamesPerAddress) {
        // The least recently seen name makes room, unless the newcomer is older still.
        if (entries[entries.length - 1]!.seenAtMs > seenAtMs) {
          this.totalNames--;
          return;
        }
        entries.pop();
        this.totalNames--;
      }
    }
    let k = 0;
    while (k < entries.length && entries[k]!.seenAtMs > entry.seenAtMs) k++;
    entries.splice(k, 0, entry);
    names.validUntilMs = -Infinity;
  }

  private evict(): void {
    while ((this.byAddress.size > this.maxAddresses || this.totalNames > this.maxNames) && this.oldest !== null) {
      this.forget(this.oldest);
    }
  }

  private forget(names: AddressNames): void {
    this.totalNames -= names.entries.length;
    this.unlink(names);
    this.byAddress.delete(names.ip);
  }

  private unlink(names: AddressNames): void {
    if (names.newer === null) this.newest = names.older;
    else names.newer.older = names.older;
    if (names.older === null) this.oldest = names.newer;
    else names.older.newer = names.newer;
    names.newer = names.older = null;
  }

  private linkNewest(names: AddressNames): void {
    names.older = this.newest;
    if (this.newest !== null) this.newest.newer = names;
    this.newest = names;
    if (this.oldest === null) this.oldest = names;
  }

  /** Drops expired names and rebuilds the shared answer. */
  private refresh(names: AddressNames): readonly string[] {
    const live = names.entries.filter((e) => e.expiresAtMs > this.nowMs);
    if (live.length === 0) {
      this.forget(names);
      return NO_NAMES;
    }
    this.totalNames -= names.entries.length - live.length;
    names.entries = live;
    names.answer = Object.freeze(live.map((e) => e.name).sort());
    names.validUntilMs = Math.min(...live.map((e) => e.expiresAtMs));
    return names.answer;
  }
}

/** "Example.COM." -> "example.com"; undefined for the root, empty or over-long names. */
function normaliseName(query: string): string | undefined {
  const trimmed = query.endsWith('.') ? query.slice(0, -1) : query;
  if (trimmed.length === 0 || trimmed.length > MAX_NAME_LENGTH) return undefined;
  return trimmed.toLowerCase();
}

function toMs(at: Timestamp): number {
  return at.seconds * 1000 + at.nanos / 1e6;
}

function positive(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${what} must be a positive integer, got ${n}`);
  return n;
}

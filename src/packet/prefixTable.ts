// Prefix matches over a fixed set of IPv4/IPv6 prefixes: one hash map per distinct prefix length, probed longest
// first, so a lookup costs one map probe per distinct length in use (inventories use a handful) and allocates
// nothing. Inventories ask for the longest prefix holding an address; filters for any that holds it.
import type { ParsedAddr, Prefix } from './ipAddress.js';
import { uint32At } from './format.js';

/** The prefixes of one length, by their network address: IPv4 as a number; IPv6 hashed, a hash naming a few at most. */
interface Level<E> {
  bits: number;
  entries: Map<number, E>;
}

interface V6Entry<V> {
  prefix: Prefix;
  value: V;
}

export class PrefixTable<V> {
  private readonly v4: Level<V>[] = [];
  private readonly v6: Level<V6Entry<V>[]>[] = [];

  /** lookup()'s test: the first value asked about is the longest prefix's. */
  private found: V | undefined;
  private readonly takeFound = (value: V): boolean => {
    this.found = value;
    return true;
  };

  /** Adds `prefix`; returns the value already stored for exactly this prefix (and keeps it), else undefined. */
  add(prefix: Prefix, value: V): V | undefined {
    const b = prefix.bytes;
    if (prefix.family === 4) {
      const level = levelOf(this.v4, prefix.bits);
      const key = uint32At(b, 0);
      const existing = level.entries.get(key);
      if (existing !== undefined) return existing;
      level.entries.set(key, value);
      return undefined;
    }
    const level = levelOf(this.v6, prefix.bits);
    const key = hashV6(uint32At(b, 0), uint32At(b, 4), uint32At(b, 8), uint32At(b, 12));
    const bucket = level.entries.get(key);
    const same = bucket?.find((e) => e.prefix.text === prefix.text);
    if (same !== undefined) return same.value;
    if (bucket === undefined) level.entries.set(key, [{ prefix, value }]);
    else bucket.push({ prefix, value });
    return undefined;
  }

  /** The value of the longest prefix containing `addr`, or undefined (always for a zoned address, as in netip). */
  lookup(addr: ParsedAddr): V | undefined {
    if (!this.someContaining(addr, this.takeFound)) return undefined;
    const found = this.found;
    this.found = undefined;
    return found;
  }

  /**
   * Whether `test` holds for the value of some prefix containing `addr`: it is asked about each of them, longest
   * first, until it says true. Never for a zoned address.
   */
  someContaining(addr: ParsedAddr, test: (value: V) => boolean): boolean {
    const b = addr.bytes;
    if (addr.family === 4) {
      const address = uint32At(b, 0);
      for (const level of this.v4) {
        const hit = level.entries.get(masked(address, level.bits));
        if (hit !== undefined && test(hit)) return true;
      }
      return false;
    }
    if (addr.family !== 6 || addr.zoned) return false;
    const w0 = uint32At(b, 0);
    const w1 = uint32At(b, 4);
    const w2 = uint32At(b, 8);
    const w3 = uint32At(b, 12);
    for (const level of this.v6) {
      const bits = level.bits;
      const key = hashV6(masked(w0, bits), masked(w1, bits - 32), masked(w2, bits - 64), masked(w3, bits - 96));
      const bucket = level.entries.get(key);
      if (bucket === undefined) continue;
      for (const e of bucket) if (e.prefix.contains(addr) && test(e.value)) return true;
    }
    return false;
  }

  get size(): number {
    let n = 0;
    for (const l of this.v4) n += l.entries.size;
    for (const l of this.v6) for (const bucket of l.entries.values()) n += bucket.length;
    return n;
  }
}

/** The level for `bits`, created (and the levels kept longest first) when it is new. */
function levelOf<E>(levels: Level<E>[], bits: number): Level<E> {
  let level = levels.find((l) => l.bits === bits);
  if (level === undefined) {
    level = { bits, entries: new Map() };
    levels.push(level);
    levels.sort((a, b) => b.bits - a.bits);
  }
  return level;
}

/** The first `bits` bits of a 32-bit word (all of it from 32 up, none at 0 or below). */
function masked(w: number, bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return w;
  return (w & (0xffffffff << (32 - bits))) >>> 0;
}

function hashV6(w0: number, w1: number, w2: number, w3: number): number {
  return Math.imul(w0 ^ Math.imul(w1, 0x85ebca6b) ^ Math.imul(w2, 0xc2b2ae35) ^ Math.imul(w3, 0x27d4eb2f), 0x9e3779b1);
}

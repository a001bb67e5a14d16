// Longest-prefix match over a fixed set of IPv4/IPv6 prefixes: one hash map per distinct prefix length, probed
// longest first, so a lookup costs one map probe per distinct length in use (inventories use a handful).
import { maskWords, type Prefix } from './ipAddress.js';

interface LengthLevel<V> {
  length: number;
  /** IPv4: the masked address as a number; IPv6: the masked words that matter, joined. */
  entries: Map<number | string, V>;
}

export class PrefixTable<V> {
  private readonly v4: LengthLevel<V>[] = [];
  private readonly v6: LengthLevel<V>[] = [];
  private readonly masked = new Uint32Array(4);

  /** Adds `prefix`; returns the value already stored for exactly this prefix (and keeps it), else undefined. */
  add(prefix: Prefix, value: V): V | undefined {
    const levels = prefix.family === 4 ? this.v4 : this.v6;
    let level = levels.find((l) => l.length === prefix.length);
    if (level === undefined) {
      level = { length: prefix.length, entries: new Map() };
      levels.push(level);
      levels.sort((a, b) => b.length - a.length);
    }
    const key = keyOf(prefix.family, prefix.words, prefix.length);
    const existing = level.entries.get(key);
    if (existing !== undefined) return existing;
    level.entries.set(key, value);
    return undefined;
  }

  /** The value of the longest prefix containing the address (`words` as parseIpInto fills them), or undefined. */
  lookup(family: 4 | 6, words: Uint32Array): V | undefined {
    if (family === 4) {
      const address = words[0]!;
      for (const level of this.v4) {
        const bits = level.length;
        const key = bits === 0 ? 0 : bits === 32 ? address : (address & (0xffffffff << (32 - bits))) >>> 0;
        const hit = level.entries.get(key);
        if (hit !== undefined) return hit;
      }
      return undefined;
    }
    for (const level of this.v6) {
      const hit = level.entries.get(keyOf(6, words, level.length, this.masked));
      if (hit !== undefined) return hit;
    }
    return undefined;
  }

  get size(): number {
    let n = 0;
    for (const l of this.v4) n += l.entries.size;
    for (const l of this.v6) n += l.entries.size;
    return n;
  }
}

function keyOf(family: 4 | 6, words: Uint32Array, length: number, scratch = new Uint32Array(4)): number | string {
  const m = maskWords(family, words, length, scratch);
  if (family === 4) return m[0]!;
  if (length <= 32) return m[0]!;
  if (length <= 64) return `${m[0]}:${m[1]}`;
  if (length <= 96) return `${m[0]}:${m[1]}:${m[2]}`;
  return `${m[0]}:${m[1]}:${m[2]}:${m[3]}`;
}

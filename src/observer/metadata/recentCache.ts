// A size-capped memo for per-address answers: keys come from packets (attacker-controlled), so it must never grow
// past its capacity. Two generations approximate LRU at O(1) with no per-hit bookkeeping: when the young map fills,
// it becomes the old one and the previous old one is dropped; a hit in the old generation moves back to the young.

export class RecentCache<K, V extends NonNullable<unknown> | null> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly generationSize: number;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 2)
      throw new RangeError(`cache capacity must be an integer >= 2, got ${capacity}`);
    this.generationSize = Math.floor(capacity / 2);
  }

  /** The remembered value (null is a remembered "nothing"), or undefined when not remembered. */
  get(key: K): V | undefined {
    const hit = this.young.get(key);
    if (hit !== undefined) return hit;
    const aged = this.old.get(key);
    if (aged !== undefined) {
      this.old.delete(key);
      this.set(key, aged);
    }
    return aged;
  }

  set(key: K, value: V): void {
    if (this.young.size >= this.generationSize && !this.young.has(key)) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  /** Entries held now; never more than the capacity. */
  get size(): number {
    return this.young.size + this.old.size;
  }
}

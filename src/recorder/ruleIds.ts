// Rule ids tie a recording to its sink (and, with a Cilium datapath, to the capture rule): each running recording
// leases one from 1..65534 and releases it when its sink has ended.

export const MIN_RULE_ID = 1;
export const MAX_RULE_ID = 65534;

export class RuleIdPool {
  private readonly inUse = new Set<number>();
  /** Where the next search starts: handing ids out round-robin keeps a just-released id from being reused at once. */
  private cursor: number;

  constructor(
    readonly min = MIN_RULE_ID,
    readonly max = MAX_RULE_ID,
  ) {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < MIN_RULE_ID || max > MAX_RULE_ID || min > max) {
      throw new RangeError(`rule id range ${min}..${max} is not within ${MIN_RULE_ID}..${MAX_RULE_ID}`);
    }
    this.cursor = min;
  }

  get size(): number {
    return this.max - this.min + 1;
  }

  get leased(): number {
    return this.inUse.size;
  }

  /** A free id, now leased; undefined when every id is in use. */
  lease(): number | undefined {
    if (this.inUse.size === this.size) return undefined;
    for (;;) {
      const id = this.cursor;
      this.cursor = id === this.max ? this.min : id + 1;
      if (!this.inUse.has(id)) {
        this.inUse.add(id);
        return id;
      }
    }
  }

  release(id: number): void {
    this.inUse.delete(id);
  }
}

// Hubble's ring buffer: fixed capacity 2^n - 1, O(1) writes that overwrite the oldest, readers that move both ways.

/** The largest ring Hubble allows. */
export const MAX_RING_CAPACITY = 65535;

/** Checks a capacity is 2^n - 1 (1, 3, 7, ..., 65535) as Hubble requires; returns it or throws saying why. */
export function parseRingCapacity(capacity: number): number {
  if (
    !Number.isInteger(capacity) ||
    capacity < 1 ||
    capacity > MAX_RING_CAPACITY ||
    (capacity & (capacity + 1)) !== 0
  ) {
    throw new RangeError(`capacity must be 2^n - 1 (1, 3, 7, ..., 4095, ..., ${MAX_RING_CAPACITY}), got ${capacity}`);
  }
  return capacity;
}

/** Returned instead of an entry when the writer overwrote entries a reader had not read yet. */
export class RingLost {
  constructor(readonly numLost: number) {}
}

export function isLostMarker(value: unknown): value is RingLost {
  return value instanceof RingLost;
}

/**
 * A ring of `capacity` entries. Positions are absolute write counts, so a reader can tell exactly
 * how far the writer overtook it. One slot beyond the capacity is the writer's, as in Hubble: an
 * entry stays readable for `capacity` writes after it was written.
 */
export class Ring<T> {
  readonly cap: number;
  private readonly slots: (T | undefined)[];
  private readonly mask: number;
  /** Absolute position of the next write (= number of writes so far). */
  private writes = 0;
  /** Entries readers missed because the writer overtook them, summed over every reader since the start. */
  readersLost = 0;
  /** Resolves every reader waiting in follow mode; created only while someone waits. */
  private wakeFollowers: (() => void) | undefined;
  private followersWoken: Promise<void> | undefined;

  constructor(capacity: number) {
    this.cap = parseRingCapacity(capacity);
    this.mask = capacity; // capacity + 1 is a power of two
    this.slots = new Array<T | undefined>(capacity + 1).fill(undefined);
  }

  /** Entries currently readable. */
  get len(): number {
    return Math.min(this.writes, this.cap);
  }

  /** Absolute position of the oldest readable entry. */
  get oldestPosition(): number {
    return Math.max(0, this.writes - this.cap);
  }

  /** Absolute position the next write will take. */
  get writePosition(): number {
    return this.writes;
  }

  write(entry: T): void {
    this.slots[this.writes & this.mask] = entry;
    this.writes++;
    if (this.wakeFollowers !== undefined) {
      const wake = this.wakeFollowers;
      this.wakeFollowers = undefined;
      this.followersWoken = undefined;
      wake();
    }
  }

  /** The entry at an absolute position, or undefined if it is not (or no longer) readable. */
  at(position: number): T | undefined {
    if (position < this.oldestPosition || position >= this.writes) return undefined;
    return this.slots[position & this.mask];
  }

  /** A reader whose next() returns the oldest readable entry. */
  readerFromOldest(): RingReader<T> {
    return new RingReader(this, this.oldestPosition);
  }

  /** A reader at the write position: next() returns nothing until a new write, previous() the newest entry. */
  readerFromNow(): RingReader<T> {
    return new RingReader(this, this.writes);
  }

  /** Resolves after the next write; one promise is shared by every waiting reader. */
  nextWrite(): Promise<void> {
    if (this.followersWoken === undefined) {
      this.followersWoken = new Promise<void>((resolve) => (this.wakeFollowers = resolve));
    }
    return this.followersWoken;
  }
}

/** A cursor into a ring. Overrun readers get a RingLost with the count, then resume at the oldest entry. */
export class RingReader<T> {
  constructor(
    private readonly ring: Ring<T>,
    /** Absolute position of the entry next() returns. */
    private position: number,
  ) {}

  /** The next entry, a RingLost if the writer overtook this reader, or undefined when caught up. */
  next(): T | RingLost | undefined {
    const oldest = this.ring.oldestPosition;
    if (this.position < oldest) {
      const lost = oldest - this.position;
      this.position = oldest;
      this.ring.readersLost += lost;
      return new RingLost(lost);
    }
    if (this.position >= this.ring.writePosition) return undefined;
    return this.ring.at(this.position++);
  }

  /** Steps back one entry and returns it, or undefined at the oldest readable entry. */
  previous(): T | undefined {
    if (this.position - 1 < this.ring.oldestPosition) return undefined;
    this.position--;
    return this.ring.at(this.position);
  }

  /** Like next(), but waits for a write when caught up; rejects with the signal's reason when aborted. */
  async nextFollow(signal: AbortSignal): Promise<T | RingLost> {
    for (;;) {
      const e = this.next();
      if (e !== undefined) return e;
      signal.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        this.ring.nextWrite().then(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    }
  }
}

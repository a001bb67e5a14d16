// Hubble's ring buffer positions: fixed capacity 2^n - 1, O(1) writes that overwrite the oldest, readers that move
// both ways and follow new writes. What an entry holds is kept by its owner (EventRing), indexed by position.

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

/** Returned instead of a position when the writer overwrote entries a reader had not read yet. */
export class RingLost {
  constructor(readonly numLost: number) {}
}

export function isLostMarker(value: unknown): value is RingLost {
  return value instanceof RingLost;
}

/**
 * The positions of a ring of `capacity` entries. Positions are absolute write counts, so a reader can tell exactly
 * how far the writer overtook it; an entry's slot is `position & mask`. One slot beyond the capacity is the
 * writer's, as in Hubble: an entry stays readable for `capacity` writes after it was written (or until its owner
 * gives it up earlier with `dropBefore`).
 */
export class Ring {
  readonly cap: number;
  /** capacity + 1 slots, a power of two: slot = position & mask. */
  readonly mask: number;
  /** Absolute position of the next write (= number of writes so far). */
  private writes = 0;
  /** Entries the owner gave up before the capacity would have pushed them out. */
  private dropped = 0;
  /** Entries readers missed because the writer overtook them, summed over every reader since the start. */
  readersLost = 0;
  /** Resolves every reader waiting in follow mode; created only while someone waits. */
  private wakeFollowers: (() => void) | undefined;
  private followersWoken: Promise<void> | undefined;
  /** True while a wake is scheduled (once per turn of the event loop, however many writes the turn brings). */
  private wakeScheduled = false;
  private readonly wakeNow = () => {
    this.wakeScheduled = false;
    const wake = this.wakeFollowers;
    this.wakeFollowers = undefined;
    this.followersWoken = undefined;
    wake?.();
  };

  constructor(capacity: number) {
    this.cap = parseRingCapacity(capacity);
    this.mask = capacity; // capacity + 1 is a power of two
  }

  /** Entries currently readable. */
  get len(): number {
    return this.writes - this.oldestPosition;
  }

  /** Absolute position of the oldest readable entry. */
  get oldestPosition(): number {
    return Math.max(this.dropped, this.writes - this.cap);
  }

  /** Absolute position the next write will take. */
  get writePosition(): number {
    return this.writes;
  }

  /**
   * Takes the next position (its slot is `position & mask`, filled by the owner before anyone reads it). Waiting
   * followers are woken once the writes of this turn are done (setImmediate), not after each write: a live capture
   * delivers each packet in its own native callback, each followed by a microtask checkpoint, so a wake per write
   * ran every follower's read loop (a promise, an abort listener, several async hops) once per packet.
   */
  advance(): number {
    const position = this.writes++;
    if (this.wakeFollowers !== undefined && !this.wakeScheduled) {
      this.wakeScheduled = true;
      setImmediate(this.wakeNow);
    }
    return position;
  }

  /** Makes every entry before `position` unreadable now (its owner needs the room). */
  dropBefore(position: number): void {
    if (position > this.dropped) this.dropped = Math.min(position, this.writes);
  }

  /** True while the entry at `position` can be read. */
  readable(position: number): boolean {
    return position >= this.oldestPosition && position < this.writes;
  }

  /** A reader whose next() returns the oldest readable position. */
  readerFromOldest(): RingReader {
    return new RingReader(this, this.oldestPosition);
  }

  /** A reader at the write position: next() returns nothing until a new write, previous() the newest entry. */
  readerFromNow(): RingReader {
    return new RingReader(this, this.writes);
  }

  /** Resolves after the next write, in the turn's check phase; one promise is shared by every waiting reader. */
  nextWrite(): Promise<void> {
    if (this.followersWoken === undefined) {
      this.followersWoken = new Promise<void>((resolve) => (this.wakeFollowers = resolve));
    }
    return this.followersWoken;
  }
}

/** A cursor into a ring. Overrun readers get a RingLost with the count, then resume at the oldest entry. */
export class RingReader {
  constructor(
    private readonly ring: Ring,
    /** Absolute position next() returns. */
    private position: number,
  ) {}

  /** The next position, a RingLost if the writer overtook this reader, or undefined when caught up. */
  next(): number | RingLost | undefined {
    const oldest = this.ring.oldestPosition;
    if (this.position < oldest) {
      const lost = oldest - this.position;
      this.position = oldest;
      this.ring.readersLost += lost;
      return new RingLost(lost);
    }
    if (this.position >= this.ring.writePosition) return undefined;
    return this.position++;
  }

  /** Steps back one entry and returns its position, or undefined at the oldest readable entry. */
  previous(): number | undefined {
    if (this.position - 1 < this.ring.oldestPosition) return undefined;
    return --this.position;
  }

  /** Like next(), but waits for a write when caught up; rejects with the signal's reason when aborted. */
  async nextFollow(signal: AbortSignal): Promise<number | RingLost> {
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

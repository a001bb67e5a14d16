// The relay's sort buffer: responses from many nodes go in as they arrive and come out in flow-time order, holding at
// most `maxLen` items and none (normally) longer than the drain timeout.

/**
 * A min-heap on (time, arrival order) with two release rules:
 * - length: pushing beyond `maxLen` releases the oldest item (which may be the one just pushed);
 * - drain timeout: an item leaves at the latest `drainTimeoutMs` after it arrived, and with it every item older
 *   than it (so the output stays in order).
 *
 * The output is in time order whenever an item never arrives more than the drain timeout after a newer one did
 * (and the length cap is not hit). An item that arrives later than that leaves with the next release: late, never
 * lost, and never held longer than the drain timeout.
 *
 * Time is passed in, not read: the caller drives it (a timer in the relay, a virtual clock in tests).
 */
export class SortBuffer<T> {
  private readonly heap: Entry<T>[] = [];
  /** Arrivals still waiting out their drain timeout: one entry per millisecond, holding the newest time pushed then. */
  private readonly arrivals: { deadlineMs: number; time: bigint }[] = [];
  private arrivalsHead = 0;
  private seq = 0;

  constructor(
    private readonly maxLen: number,
    private readonly drainTimeoutMs: number,
    private readonly timeOf: (item: T) => bigint,
  ) {
    if (!(maxLen >= 1)) throw new RangeError(`sort buffer length must be at least 1, got ${maxLen}`);
  }

  get length(): number {
    return this.heap.length;
  }

  /** Adds an item that arrived at `nowMs`; whatever the length cap releases is appended to `out`. */
  push(item: T, nowMs: number, out: T[]): void {
    if (this.heap.length === 0) this.clearArrivals(); // what they stood for has left already
    const time = this.timeOf(item);
    this.insert({ item, time, seq: this.seq++ });
    const deadlineMs = nowMs + this.drainTimeoutMs;
    const last = this.arrivals[this.arrivals.length - 1];
    if (last !== undefined && this.arrivals.length > this.arrivalsHead && last.deadlineMs === deadlineMs) {
      if (time > last.time) last.time = time;
    } else {
      this.arrivals.push({ deadlineMs, time });
    }
    if (this.heap.length > this.maxLen) out.push(this.popMin()!.item);
  }

  /** Releases, oldest first, the items whose wait is over at `nowMs` and every item older than them. */
  drainExpired(nowMs: number, out: T[]): void {
    let due: bigint | undefined;
    while (this.arrivalsHead < this.arrivals.length && this.arrivals[this.arrivalsHead]!.deadlineMs <= nowMs) {
      const t = this.arrivals[this.arrivalsHead++]!.time;
      if (due === undefined || t > due) due = t;
    }
    if (this.arrivalsHead > 1024 && this.arrivalsHead * 2 > this.arrivals.length) {
      this.arrivals.splice(0, this.arrivalsHead);
      this.arrivalsHead = 0;
    }
    if (due === undefined) return;
    while (this.heap.length > 0 && this.heap[0]!.time <= due) out.push(this.popMin()!.item);
    if (this.heap.length === 0) this.clearArrivals();
  }

  /** Releases everything, oldest first (the streams feeding the buffer have ended). */
  flush(out: T[]): void {
    while (this.heap.length > 0) out.push(this.popMin()!.item);
    this.clearArrivals();
  }

  /** When the next release may be due, for the caller's timer; undefined when empty. */
  nextDeadlineMs(): number | undefined {
    return this.heap.length === 0 ? undefined : this.arrivals[this.arrivalsHead]?.deadlineMs;
  }

  private clearArrivals(): void {
    this.arrivals.length = 0;
    this.arrivalsHead = 0;
  }

  private insert(e: Entry<T>): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(e, h[parent]!)) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = e;
  }

  private popMin(): Entry<T> | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= h.length) break;
      const right = left + 1;
      const child = right < h.length && before(h[right]!, h[left]!) ? right : left;
      if (!before(h[child]!, last)) break;
      h[i] = h[child]!;
      i = child;
    }
    h[i] = last;
    return top;
  }
}

interface Entry<T> {
  item: T;
  time: bigint;
  /** Arrival order: equal times leave in the order they came. */
  seq: number;
}

function before<T>(a: Entry<T>, b: Entry<T>): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

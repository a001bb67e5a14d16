// The relay's sort buffer: responses from many nodes go in as they arrive and come out in flow-time order, holding at
// most `maxLen` items and none (normally) longer than the drain timeout.
import type { FlowTime } from './flowsWire.js';

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
 * Time is passed in, not read: the caller drives it (a timer in the relay, a virtual clock in tests). The heap keeps
 * its items and their arrival numbers in two arrays side by side: pushing allocates nothing.
 */
export class SortBuffer<T extends FlowTime> {
  private readonly items: T[] = [];
  private readonly seqs: number[] = [];
  /** Arrivals still waiting out their drain timeout: one entry per millisecond, holding the newest time pushed then. */
  private readonly arrivals: Arrival[] = [];
  private arrivalsHead = 0;
  private seq = 0;

  constructor(
    private readonly maxLen: number,
    private readonly drainTimeoutMs: number,
  ) {
    if (!(maxLen >= 1)) throw new RangeError(`sort buffer length must be at least 1, got ${maxLen}`);
  }

  get length(): number {
    return this.items.length;
  }

  /**
   * Adds an item that arrived at `nowMs`; returns what the length cap releases (at most one item: the oldest, which
   * may be the one just pushed), else undefined.
   */
  push(item: T, nowMs: number): T | undefined {
    if (this.items.length === 0) this.clearArrivals(); // what they stood for has left already
    this.noteArrival(item, nowMs);
    const seq = this.seq++;
    if (this.items.length < this.maxLen) {
      this.insert(item, seq);
      return undefined;
    }
    // Full: the oldest of the heap and the new item leaves. Usually that is the heap's top, and the new item takes its
    // place in one pass down the heap rather than a pass up and another down.
    const top = this.items[0]!;
    if (!before(top, this.seqs[0]!, item, seq)) return item;
    this.replaceTop(item, seq);
    return top;
  }

  private noteArrival(item: T, nowMs: number): void {
    const deadlineMs = nowMs + this.drainTimeoutMs;
    const last = this.arrivals[this.arrivals.length - 1];
    if (last !== undefined && this.arrivals.length > this.arrivalsHead && last.deadlineMs === deadlineMs) {
      if (compareTime(item, last) > 0) {
        last.seconds = item.seconds;
        last.nanos = item.nanos;
      }
    } else {
      this.arrivals.push({ deadlineMs, seconds: item.seconds, nanos: item.nanos });
    }
  }

  /** Releases, oldest first, the items whose wait is over at `nowMs` and every item older than them. */
  drainExpired(nowMs: number, out: T[]): void {
    let due: Arrival | undefined;
    while (this.arrivalsHead < this.arrivals.length && this.arrivals[this.arrivalsHead]!.deadlineMs <= nowMs) {
      const a = this.arrivals[this.arrivalsHead++]!;
      if (due === undefined || compareTime(a, due) > 0) due = a;
    }
    if (this.arrivalsHead > 1024 && this.arrivalsHead * 2 > this.arrivals.length) {
      this.arrivals.splice(0, this.arrivalsHead);
      this.arrivalsHead = 0;
    }
    if (due === undefined) return;
    while (this.items.length > 0 && compareTime(this.items[0]!, due) <= 0) out.push(this.popMin());
    if (this.items.length === 0) this.clearArrivals();
  }

  /** Releases everything, oldest first (the streams feeding the buffer have ended). */
  flush(out: T[]): void {
    while (this.items.length > 0) out.push(this.popMin());
    this.clearArrivals();
  }

  /** When the next release may be due, for the caller's timer; undefined when empty. */
  nextDeadlineMs(): number | undefined {
    return this.items.length === 0 ? undefined : this.arrivals[this.arrivalsHead]?.deadlineMs;
  }

  private clearArrivals(): void {
    this.arrivals.length = 0;
    this.arrivalsHead = 0;
  }

  private insert(item: T, seq: number): void {
    const items = this.items;
    const seqs = this.seqs;
    let i = items.length;
    items.push(item);
    seqs.push(seq);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, seq, items[parent]!, seqs[parent]!)) break;
      items[i] = items[parent]!;
      seqs[i] = seqs[parent]!;
      i = parent;
    }
    items[i] = item;
    seqs[i] = seq;
  }

  /**
   * Puts `item` in place of the top (which the caller takes): down to a leaf along the older child, then up to where
   * the item belongs (Floyd's way: a new item is usually among the newest, so it rarely climbs).
   */
  private replaceTop(item: T, seq: number): void {
    const items = this.items;
    const seqs = this.seqs;
    const n = items.length;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(items[right]!, seqs[right]!, items[left]!, seqs[left]!) ? right : left;
      items[i] = items[child]!;
      seqs[i] = seqs[child]!;
      i = child;
    }
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, seq, items[parent]!, seqs[parent]!)) break;
      items[i] = items[parent]!;
      seqs[i] = seqs[parent]!;
      i = parent;
    }
    items[i] = item;
    seqs[i] = seq;
  }

  /** Removes and returns the oldest item; the heap must not be empty. */
  private popMin(): T {
    const items = this.items;
    const seqs = this.seqs;
    const top = items[0]!;
    const last = items.pop()!;
    const lastSeq = seqs.pop()!;
    const n = items.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(items[right]!, seqs[right]!, items[left]!, seqs[left]!) ? right : left;
      if (!before(items[child]!, seqs[child]!, last, lastSeq)) break;
      items[i] = items[child]!;
      seqs[i] = seqs[child]!;
      i = child;
    }
    items[i] = last;
    seqs[i] = lastSeq;
    return top;
  }
}

interface Arrival {
  readonly deadlineMs: number;
  /** The newest time pushed in that millisecond. */
  seconds: number;
  nanos: number;
}

function compareTime(a: FlowTime, b: FlowTime): number {
  if (a.seconds !== b.seconds) return a.seconds < b.seconds ? -1 : 1;
  return a.nanos - b.nanos;
}

/** Whether (a, aSeq) leaves before (b, bSeq): earlier time, or the same time and earlier arrival. */
function before(a: FlowTime, aSeq: number, b: FlowTime, bSeq: number): boolean {
  if (a.seconds !== b.seconds) return a.seconds < b.seconds;
  if (a.nanos !== b.nanos) return a.nanos < b.nanos;
  return aSeq < bSeq;
}

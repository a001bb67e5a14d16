// The relay's sort buffer on a virtual clock: time-ordered output whenever each node's flows come in order and
// within the drain window, nothing lost or duplicated ever, never more than the length cap held, no wait beyond the
// drain timeout.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SortBuffer } from '../../src/relay/sortBuffer.js';

interface Item {
  node: number;
  seq: number;
  /** Flow time (whole units here; seconds and nanoseconds below, as the relay reads them). */
  time: number;
  /** When it reaches the relay, ms. */
  arrival: number;
}

/** A time of `n` units as the sort buffer sees it: a tenth of a second each, so both parts of a time count. */
const asTime = (n: number) => ({ seconds: Math.floor(n / 10), nanos: (n % 10) * 100_000_000 });
const timed = <T extends { time: number }>(item: T) => Object.assign(item, asTime(item.time));
/** A bare time, for the small cases. */
const at = (n: number) => ({ n, ...asTime(n) });
const ns = (out: { n: number }[]) => out.map((x) => x.n);

interface Released {
  item: Item;
  at: number;
}

type TimedItem = Item & ReturnType<typeof asTime>;

/** What the simulation drives: SortBuffer, or the model below. */
interface SortBufferLike {
  readonly length: number;
  push(item: TimedItem, nowMs: number): TimedItem | undefined;
  drainExpired(nowMs: number, out: TimedItem[]): void;
  nextDeadlineMs(): number | undefined;
}

/**
 * The sort buffer's rules written as plainly as possible, to hold the heap to: a sorted list (by time, then arrival),
 * and every arrival's deadline with its time.
 */
class ModelBuffer implements SortBufferLike {
  private entries: TimedItem[] = [];
  private arrivals: { deadlineMs: number; time: number }[] = [];

  constructor(
    private readonly maxLen: number,
    private readonly drainMs: number,
  ) {}

  get length(): number {
    return this.entries.length;
  }

  push(item: TimedItem, nowMs: number): TimedItem | undefined {
    if (this.entries.length === 0) this.arrivals = [];
    this.arrivals.push({ deadlineMs: nowMs + this.drainMs, time: item.time });
    const at = this.entries.findIndex((e) => e.time > item.time);
    this.entries.splice(at < 0 ? this.entries.length : at, 0, item);
    return this.entries.length > this.maxLen ? this.entries.shift() : undefined;
  }

  drainExpired(nowMs: number, out: TimedItem[]): void {
    const expired = this.arrivals.filter((a) => a.deadlineMs <= nowMs);
    this.arrivals = this.arrivals.filter((a) => a.deadlineMs > nowMs);
    if (expired.length === 0) return;
    const due = Math.max(...expired.map((a) => a.time));
    while (this.entries.length > 0 && this.entries[0]!.time <= due) out.push(this.entries.shift()!);
    if (this.entries.length === 0) this.arrivals = [];
  }

  nextDeadlineMs(): number | undefined {
    return this.entries.length === 0 || this.arrivals.length === 0
      ? undefined
      : Math.min(...this.arrivals.map((a) => a.deadlineMs));
  }
}

/** Feeds items in arrival order, firing the drain timer whenever it is due in between, then lets the buffer drain. */
function simulate(
  items: Item[],
  maxLen: number,
  drainMs: number,
  onPush?: (len: number) => void,
  buffer: SortBufferLike = new SortBuffer<TimedItem>(maxLen, drainMs),
): Released[] {
  const released: Released[] = [];
  const take = (at: number, out: Item[]) => out.forEach((item) => released.push({ item, at }));
  const byArrival = [...items]
    .sort((a, b) => a.arrival - b.arrival || a.node - b.node || a.seq - b.seq)
    .map((item) => timed({ ...item }));
  const fireUntil = (now: number) => {
    for (let due = buffer.nextDeadlineMs(); due !== undefined && due <= now; due = buffer.nextDeadlineMs()) {
      const out: TimedItem[] = [];
      buffer.drainExpired(due, out);
      take(due, out);
    }
  };
  for (const item of byArrival) {
    fireUntil(item.arrival);
    const released = buffer.push(item, item.arrival);
    take(item.arrival, released === undefined ? [] : [released]);
    onPush?.(buffer.length);
  }
  fireUntil(Infinity);
  return released;
}

/**
 * Per-node streams in order: times rise, and each item arrives within `drainMs` of its own time, never before the
 * node's previous one. Then no item arrives more than the drain window after a newer one.
 */
function orderedNodes(drainMs: number) {
  return fc
    .array(fc.array(fc.record({ gap: fc.nat(50), lag: fc.nat(drainMs - 1) }), { maxLength: 40 }), {
      minLength: 1,
      maxLength: 5,
    })
    .map((nodes) => {
      const items: Item[] = [];
      nodes.forEach((steps, node) => {
        let time = 0;
        let arrival = 0;
        steps.forEach(({ gap, lag }, seq) => {
          time += gap;
          arrival = Math.max(arrival, time + lag);
          items.push({ node, seq, time, arrival });
        });
      });
      return items;
    });
}

const key = (i: Item) => `${i.node}/${i.seq}`;

describe('SortBuffer', () => {
  it('releases in time order, losing and duplicating nothing, when node streams are ordered and within the drain window', () => {
    const drainMs = 100;
    fc.assert(
      fc.property(orderedNodes(drainMs), (items) => {
        const released = simulate(items, items.length + 1, drainMs);
        const times = released.map((r) => r.item.time);
        expect(times).toEqual([...times].sort((a, b) => a - b));
        expect(released.map((r) => key(r.item)).sort()).toEqual(items.map(key).sort());
        // Equal times keep their arrival order.
        for (let i = 1; i < released.length; i++) {
          const [a, b] = [released[i - 1]!.item, released[i]!.item];
          if (a.time === b.time && a.node === b.node) expect(a.seq).toBeLessThan(b.seq);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never holds more than its length, loses nothing and holds nothing past the drain timeout, whatever comes in', () => {
    const drainMs = 100;
    const anyItems = fc
      .array(fc.record({ node: fc.nat(3), time: fc.nat(1000), arrival: fc.nat(2000) }), { maxLength: 200 })
      .map((rows) => rows.map((r, seq) => ({ ...r, seq })));
    fc.assert(
      fc.property(anyItems, fc.integer({ min: 1, max: 20 }), (items, maxLen) => {
        let most = 0;
        const released = simulate(items, maxLen, drainMs, (len) => (most = Math.max(most, len)));
        expect(most).toBeLessThanOrEqual(maxLen);
        expect(released.map((r) => key(r.item)).sort()).toEqual(items.map(key).sort());
        for (const r of released) expect(r.at - r.item.arrival).toBeLessThanOrEqual(drainMs);
      }),
      { numRuns: 300 },
    );
  });

  it('releases exactly what a plain sorted list would, at the same moments, whatever comes in and however full', () => {
    const drainMs = 100;
    const anyItems = fc
      .array(fc.record({ node: fc.nat(3), time: fc.nat(300), arrival: fc.nat(600) }), { maxLength: 150 })
      .map((rows) => rows.map((r, seq) => ({ ...r, seq })));
    fc.assert(
      fc.property(anyItems, fc.integer({ min: 1, max: 12 }), (items, maxLen) => {
        const heap = simulate(items, maxLen, drainMs);
        const model = simulate(items, maxLen, drainMs, undefined, new ModelBuffer(maxLen, drainMs));
        expect(heap.map((r) => `${key(r.item)}@${r.at}`)).toEqual(model.map((r) => `${key(r.item)}@${r.at}`));
      }),
      { numRuns: 500 },
    );
  });

  it('releases the oldest when full, even when that is the item just pushed', () => {
    const buffer = new SortBuffer<ReturnType<typeof at>>(2, 1000);
    expect(buffer.push(at(5), 0)).toBeUndefined();
    expect(buffer.push(at(17), 0)).toBeUndefined();
    expect(buffer.push(at(3), 0)?.n).toBe(3);
    expect(buffer.push(at(16), 0)?.n).toBe(5);
    const out: ReturnType<typeof at>[] = [];
    buffer.flush(out);
    expect(ns(out)).toEqual([16, 17]);
    expect(buffer.length).toBe(0);
  });

  it('releases an item when its wait is over, with every older one that arrived after it', () => {
    const buffer = new SortBuffer<ReturnType<typeof at>>(10, 100);
    const out: ReturnType<typeof at>[] = [];
    buffer.push(at(20), 0);
    buffer.push(at(10), 50); // older, later
    buffer.push(at(30), 60); // newer: waits for its own turn
    expect(buffer.nextDeadlineMs()).toBe(100);
    buffer.drainExpired(99, out);
    expect(out).toEqual([]);
    buffer.drainExpired(100, out);
    expect(ns(out)).toEqual([10, 20]);
    expect(buffer.nextDeadlineMs()).toBe(150);
    buffer.drainExpired(160, out);
    expect(ns(out)).toEqual([10, 20, 30]);
    expect(buffer.nextDeadlineMs()).toBeUndefined();
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isLostMarker, parseRingCapacity, Ring, RingLost } from '../../src/observer/ring.js';

function drain(next: () => number | RingLost | undefined): (number | string)[] {
  const out: (number | string)[] = [];
  for (let e = next(); e !== undefined; e = next()) out.push(isLostMarker(e) ? `lost ${e.numLost}` : e);
  return out;
}

describe('ring capacity', () => {
  it.each([1, 3, 7, 4095, 65535])('accepts %i', (n) => expect(parseRingCapacity(n)).toBe(n));
  it.each([0, 2, 4096, 100, 131071, -1, 1.5])('refuses %d and says what is allowed', (n) => {
    expect(() => parseRingCapacity(n)).toThrow(/2\^n - 1/);
  });
});

describe('Ring', () => {
  it('gives up entries early when their owner needs the room, and readers are told', () => {
    const ring = new Ring(7);
    for (let i = 0; i < 5; i++) ring.advance();
    const reader = ring.readerFromOldest();
    ring.dropBefore(3);
    expect(ring.len).toBe(2);
    expect(ring.readable(2)).toBe(false);
    expect(drain(() => reader.next())).toEqual(['lost 3', 3, 4]);
  });

  it('keeps the last `capacity` writes, oldest first', () => {
    const ring = new Ring(7);
    for (let i = 0; i < 20; i++) ring.advance();
    expect(ring.len).toBe(7);
    const reader = ring.readerFromOldest();
    expect(drain(() => reader.next())).toEqual([13, 14, 15, 16, 17, 18, 19]);
  });

  it('walks back from now with previous()', () => {
    const ring = new Ring(3);
    for (let i = 0; i < 5; i++) ring.advance();
    const reader = ring.readerFromNow();
    expect([reader.previous(), reader.previous(), reader.previous(), reader.previous()]).toEqual([4, 3, 2, undefined]);
    expect(drain(() => reader.next())).toEqual([2, 3, 4]);
  });

  it('tells an overrun reader how many entries it lost, then resumes at the oldest', () => {
    const ring = new Ring(3);
    ring.advance();
    const reader = ring.readerFromOldest();
    expect(reader.next()).toBe(0);
    for (let i = 1; i <= 10; i++) ring.advance();
    // Entries 1..7 were overwritten before the reader got to them.
    expect(drain(() => reader.next())).toEqual(['lost 7', 8, 9, 10]);
  });

  it('wakes followers on the next write and releases them on abort', async () => {
    const ring = new Ring(3);
    const reader = ring.readerFromNow();
    const abort = new AbortController();
    const pending = reader.nextFollow(abort.signal);
    ring.advance();
    await expect(pending).resolves.toBe(0);

    const waiting = reader.nextFollow(abort.signal);
    abort.abort(new Error('client went away'));
    await expect(waiting).rejects.toThrow('client went away');
  });

  it('agrees with a plain array model for any sequence of writes and reads', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 3, 7, 15),
        fc.array(fc.oneof(fc.constant('w'), fc.constant('r')), { maxLength: 200 }),
        (capacity, ops) => {
          const ring = new Ring(capacity);
          const reader = ring.readerFromOldest();
          const written: number[] = [];
          let readPos = 0;
          for (const op of ops) {
            if (op === 'w') {
              expect(ring.advance()).toBe(written.length);
              written.push(written.length);
              continue;
            }
            const e = reader.next();
            const oldest = Math.max(0, written.length - capacity);
            if (readPos < oldest) {
              expect(e).toEqual(new RingLost(oldest - readPos));
              readPos = oldest;
            } else if (readPos >= written.length) {
              expect(e).toBeUndefined();
            } else {
              expect(e).toBe(written[readPos++]);
            }
          }
          expect(ring.len).toBe(Math.min(written.length, capacity));
        },
      ),
    );
  });
});

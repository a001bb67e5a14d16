// Milliseconds since the epoch, read from a variable a timer moves ten times a second: for checks made per packet
// ("is it time to re-read the host's addresses?") that a Date.now() call each would cost more than they are worth.

/** How often the clock moves; also how late it may be. */
const TICK_MS = 100;

let nowMs = Date.now();
let ticking: NodeJS.Timeout | undefined;

/** The time, at most TICK_MS behind; the first call starts the (unreferenced) timer. */
export function coarseNow(): number {
  if (ticking === undefined) {
    ticking = setInterval(() => (nowMs = Date.now()), TICK_MS);
    ticking.unref();
    nowMs = Date.now();
  }
  return nowMs;
}

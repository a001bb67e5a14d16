// How long the relay waits before its next attempt to reach a peer or the Peer service: exponential, capped.

/** Upstream's pool backoff starts at a second and doubles. */
const FIRST_WAIT_MS = 1000;
const FACTOR = 2;

/** The wait before attempt `attempt` (0-based) after a failure: 1s, 2s, 4s, … never more than `maxMs`. */
export function backoffMs(attempt: number, maxMs: number): number {
  return Math.min(maxMs, FIRST_WAIT_MS * FACTOR ** Math.min(attempt, 30));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

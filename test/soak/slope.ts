// How fast a memory figure grows: a least-squares line through samples taken after warm-up, in bytes per minute.
// The V8 heap is a sawtooth (it grows until a collection cuts it back), so a line through raw heap samples mostly says
// where the collections happened to fall. The soak forces a full collection before each sample (collectOnSignal.cjs),
// so its heap samples are the live set, which is what a leak grows; without that, the lowest sample of each window is
// the nearest estimate.

export interface Point {
  t: number;
  v: number;
}

/** Least-squares slope of v over t (t in seconds), in units of v per minute; 0 with fewer than two points. */
export function slopePerMinute(points: readonly Point[]): number {
  const n = points.length;
  if (n < 2) return 0;
  let st = 0;
  let sv = 0;
  for (const p of points) {
    st += p.t;
    sv += p.v;
  }
  const mt = st / n;
  const mv = sv / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.v - mv);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60;
}

/** The lowest point of each `windowSeconds` window (windows counted from the first point). */
export function lowerEnvelope(points: readonly Point[], windowSeconds: number): Point[] {
  if (points.length === 0) return [];
  const t0 = points[0]!.t;
  const lows = new Map<number, Point>();
  for (const p of points) {
    const w = Math.floor((p.t - t0) / windowSeconds);
    const low = lows.get(w);
    if (low === undefined || p.v < low.v) lows.set(w, p);
  }
  return [...lows.values()];
}

export interface MemoryTrend {
  samples: number;
  /** Over the samples after warm-up. */
  rssStart: number;
  rssEnd: number;
  /** Through the lowest RSS sample of each window: the figure the long form asserts on. */
  rssSlopeBytesPerMin: number;
  /** Highest RSS after warm-up above the first sample after it: what the short form asserts on. */
  rssGrowth: number;
  heapStart: number;
  heapEnd: number;
  /** Through the live heap (see heapMethod): the figure asserted on. */
  heapSlopeBytesPerMin: number;
  /** How the live heap was read: after a forced full collection, or as the lowest sample of each window. */
  heapMethod: 'forced-gc' | 'lower-envelope';
  /** Longest event-loop stall seen over the whole run, in milliseconds. */
  loopLagMaxMs: number;
  /** CPU the process used while load ran, as a share of one core. */
  cpuShare: number;
}

/** One sample of a process: time (s), RSS, heap used, whether a full collection ran just before, loop lag, CPU. */
export interface ProcessSample {
  t: number;
  rss: number;
  heapUsed: number;
  /** A full collection ran right before this sample: heapUsed is the live heap. */
  collected: boolean;
  /** Longest event-loop delay since the previous scrape, in seconds. */
  loopLagMax: number;
  /** CPU seconds used so far. */
  cpuSeconds: number;
}

/**
 * The trend of one process's samples after `warmupSeconds`. The heap line goes through every sample when each came
 * right after a full collection, else through the lowest sample of each `windowSeconds` window; the RSS line through
 * the lowest RSS of each window (RSS falls back only when the allocator returns memory).
 */
export function memoryTrend(
  samples: readonly ProcessSample[],
  warmupSeconds: number,
  windowSeconds: number,
): MemoryTrend {
  const after = samples.filter((s) => s.t >= warmupSeconds);
  const rss = after.map((s) => ({ t: s.t, v: s.rss }));
  const heap = after.map((s) => ({ t: s.t, v: s.heapUsed }));
  const forced = after.length > 0 && after.every((s) => s.collected);
  const first = after[0];
  const last = after.at(-1);
  return {
    samples: after.length,
    rssStart: first?.rss ?? 0,
    rssEnd: last?.rss ?? 0,
    rssSlopeBytesPerMin: slopePerMinute(lowerEnvelope(rss, windowSeconds)),
    rssGrowth: first === undefined ? 0 : Math.max(...after.map((x) => x.rss)) - first.rss,
    heapStart: first?.heapUsed ?? 0,
    heapEnd: last?.heapUsed ?? 0,
    heapSlopeBytesPerMin: slopePerMinute(forced ? heap : lowerEnvelope(heap, windowSeconds)),
    heapMethod: forced ? 'forced-gc' : 'lower-envelope',
    loopLagMaxMs: Math.round(Math.max(0, ...samples.map((s) => s.loopLagMax)) * 1000),
    cpuShare: first && last && last.t > first.t ? (last.cpuSeconds - first.cpuSeconds) / (last.t - first.t) : 0,
  };
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

// The soak's settings for its short form in CI (the long form, run.ts, changes duration, warm-up, sampling and bounds).
import type { SoakConfig } from './mixedLoad.js';

export const SHORT_SOAK: Omit<SoakConfig, 'log' | 'outFile'> = {
  durationS: 35,
  warmupS: 15,
  sampleEveryMs: 2000,
  envelopeWindowS: 5,
  udpPerSecond: 250,
  tcpEveryMs: 500,
  followers: 50,
  sluggish: 2,
  churning: 5,
  churnEveryMs: 8000,
  stallMs: 6000,
  stallEveryMs: 12_000,
  recordings: 10,
  // This shared two-core VM stalls processes for over a second at times, longer than libpcap's kernel ring covers;
  // the figure is reported either way, and every loss after capture must be counted exactly.
  maxUncountedCaptureLoss: 0.25,
  // Warm-up covers the 4095-flow rings filling (~11 s). The heap is read after a full collection, so its line is tight
  // even over 20 s; RSS moves in steps of megabytes as V8 and malloc take and return memory, so over 20 s a line
  // through it means nothing: the short form bounds how far it rises instead (a stalled reader buffering would show).
  bounds: { heapBytesPerMin: 4 * 1024 * 1024, rssGrowthBytes: 48 * 1024 * 1024 },
};

// Preloaded into the processes the soak measures (node --expose-gc --require this): on SIGUSR2, a full garbage
// collection, then one line on stderr with the heap still in use and the RSS, so the soak reads what is alive rather
// than wherever the heap's sawtooth happens to be. The product never sees the signal; nothing else in it changes.
'use strict';
process.on('SIGUSR2', () => {
  if (typeof globalThis.gc !== 'function') return;
  globalThis.gc();
  const { heapUsed, rss } = process.memoryUsage();
  process.stderr.write(`soak-memory-after-gc ${heapUsed} ${rss}\n`);
});

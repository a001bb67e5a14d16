// The soak's short form, run in CI: the mixed load of mixedLoad.ts for 30 s. `npm run soak` runs the same for 10 minutes.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runMixedLoad } from './mixedLoad.js';
import { SHORT_SOAK } from './shortSoak.js';

describe('soak (short form)', () => {
  it('keeps memory flat and accounts for every event under ingest, 50 followers, 10 recordings, export and a relay', async () => {
    const report = await runMixedLoad({
      ...SHORT_SOAK,
      outFile: join(import.meta.dirname, 'out', 'soak-short.json'),
      log: (line) => console.log(line),
    });
    expect(report.failures).toEqual([]);
  }, 120_000);
});

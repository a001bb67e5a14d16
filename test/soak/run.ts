// `npm run soak`: the long form. The mixed load of mixedLoad.ts for ten minutes (or --duration / SOAK_DURATION: "90s",
// "10m", "1h"), then the fault tests and the fuzzers with many more cases (HUBBLE_TS_FUZZ_SCALE, default 10 here).
// Prints the human report, writes test/soak/out/soak-long.json, exits 1 when any check failed.
//
//   npm run soak                       # 10 minutes of load, then faults and fuzzers at 10x
//   npm run soak -- --duration 30m     # longer
//   npm run soak -- --no-fuzz          # the load only
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runMixedLoad } from './mixedLoad.js';
import { SHORT_SOAK } from './shortSoak.js';

function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text.trim());
  if (m === null) throw new Error(`duration "${text}" is not a number of s, m or h (e.g. 10m)`);
  return Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

async function main(): Promise<number> {
  const durationS = parseDuration(flag('duration') ?? process.env['SOAK_DURATION'] ?? '10m');
  const fuzzScale = Number(flag('fuzz-scale') ?? process.env['HUBBLE_TS_FUZZ_SCALE'] ?? '10');
  const outFile = join(import.meta.dirname, 'out', 'soak-long.json');
  const report = await runMixedLoad({
    ...SHORT_SOAK,
    durationS,
    // A tenth of the run, at least a minute, warms up: rings fill, connections and JIT settle.
    warmupS: Math.min(Math.max(60, durationS / 10), durationS / 2),
    sampleEveryMs: durationS >= 300 ? 5000 : 2000,
    envelopeWindowS: durationS >= 300 ? 30 : 5,
    // Over minutes a line through the samples means something: memory must be flat within a few MiB a minute.
    bounds: { heapBytesPerMin: 1024 * 1024, rssBytesPerMin: 4 * 1024 * 1024, rssGrowthBytes: 64 * 1024 * 1024 },
    maxUncountedCaptureLoss: Number(
      process.env['SOAK_MAX_UNCOUNTED_CAPTURE_LOSS'] ?? SHORT_SOAK.maxUncountedCaptureLoss,
    ),
    outFile,
    log: (line) => console.log(line),
  });
  console.log(`soak: report written to ${outFile}`);
  let status = report.failures.length === 0 ? 0 : 1;
  if (!process.argv.includes('--no-fuzz')) {
    console.log(`soak: fault tests and fuzzers, HUBBLE_TS_FUZZ_SCALE=${fuzzScale}`);
    const vitest = spawnSync('npx', ['vitest', 'run', 'test/faults', 'test/fuzz'], {
      stdio: 'inherit',
      env: { ...process.env, HUBBLE_TS_FUZZ_SCALE: String(fuzzScale) },
      cwd: join(import.meta.dirname, '../..'),
    });
    if (vitest.status !== 0) status = 1;
  }
  return status;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

// How many cases each fuzzer runs: a modest number in CI, HUBBLE_TS_FUZZ_SCALE times more under `npm run soak`. Every
// fuzzer reports what it ran, so the figures can be quoted.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
export const FUZZ_SCALE = Math.max(0.1, Number(process.env['HUBBLE_TS_FUZZ_SCALE'] ?? '1') || 1);

/** `ciRuns` scaled by HUBBLE_TS_FUZZ_SCALE (at least 1). */
export function fuzzRuns(ciRuns: number): number {
  return Math.max(1, Math.round(ciRuns * FUZZ_SCALE));
}

/** Counts cases per fuzzer and prints one line each: "fuzz: NAME: N cases (...)". */
export class CaseCounter {
  private readonly counts = new Map<string, number>();

  add(name: string, n = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + n);
  }

  get(name: string): number {
    return this.counts.get(name) ?? 0;
  }

  report(name: string, detail = ''): void {
    console.log(`fuzz: ${name}: ${this.get(name)} cases${detail ? ` (${detail})` : ''}`);
  }
}

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/** This process's heap in use after a full collection: what a fuzzer run left alive. */
export function heapAfterGc(): number {
  collect();
  return process.memoryUsage().heapUsed;
}

// `hubble-ts` as a user runs it, for the benchmarks that measure a whole server process (resident memory, latency):
// built from this checkout to dist/ first (npm run build), then started from bin/hubble-ts.js, never through tsx.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');

let built: Promise<void> | undefined;

/** Compiles src/ to dist/ once per benchmark run (what `npm ci` does through `prepare`). */
export function buildProduct(): Promise<void> {
  built ??= run(process.execPath, [
    join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-p',
    join(ROOT, 'tsconfig.build.json'),
  ]).then(() => undefined);
  return built;
}

export interface ProductProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves once `text` appears in its output (logs go to stdout), or rejects after `ms`. */
  waitFor(text: string, ms?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `hubble-ts ARGS` from dist/. */
export async function startProduct(args: readonly string[]): Promise<ProductProcess> {
  await buildProduct();
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'hubble-ts.js'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => out,
    async waitFor(text, ms = 30_000) {
      const deadline = Date.now() + ms;
      while (!out.includes(text)) {
        if (child.exitCode !== null) throw new Error(`hubble-ts ${args[0]} exited: ${out.slice(-2000)}`);
        if (Date.now() > deadline)
          throw new Error(`hubble-ts ${args[0]}: no "${text}" within ${ms} ms: ${out.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Resident memory of a process, in MiB, from /proc. */
export async function residentMiB(pid: number): Promise<number> {
  const { stdout } = await run('cat', [`/proc/${pid}/status`]);
  const kib = Number(/VmRSS:\s+(\d+)\s+kB/.exec(stdout)?.[1]);
  if (!Number.isFinite(kib)) throw new Error(`no VmRSS for process ${pid}`);
  return kib / 1024;
}

// Runs the hubble-ts command as a user does, from its TypeScript entry: to completion, or as a long-running process
// whose output the test watches.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const CLI_ENTRY = join(import.meta.dirname, '../../src/cli/main.ts');
/** tsx's loader by path, so the CLI also starts from another working directory. */
const TSX_LOADER = pathToFileURL(join(import.meta.dirname, '../../node_modules/tsx/dist/loader.mjs')).href;

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `hubble-ts ARGS` to completion; `options.env` replaces the environment, `options.input` is its stdin. */
export function runCli(
  args: readonly string[],
  timeoutMs = 20_000,
  options: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX_LOADER, CLI_ENTRY, ...args], {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hubble-ts ${args.join(' ')} did not finish in ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A long-running `hubble-ts ARGS` (serve, relay, observe --follow) with its output so far. */
export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  /** Resolves once `predicate` holds for the output, or rejects after `ms`. */
  waitFor(predicate: (stdout: string, stderr: string) => boolean, ms?: number, what?: string): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `options.nodeArgs` go to node itself, before the entry (e.g. `--expose-gc`, `--require FILE`). */
export function spawnCli(
  args: readonly string[],
  options: { nodeArgs?: readonly string[]; cwd?: string } = {},
): CliProcess {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', TSX_LOADER, CLI_ENTRY, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: options.cwd,
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(predicate, ms = 15_000, what = 'condition') {
      const deadline = Date.now() + ms;
      while (!predicate(out, err)) {
        if (child.exitCode !== null)
          throw new Error(`hubble-ts ${args[0]} exited (${child.exitCode}) before ${what}: ${err}${out}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr: ${err.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** A `hubble-ts serve` that has replayed a capture. */
export interface ServedCapture {
  process: CliProcess;
  socket: string;
  /** The port metrics are served on, when `args` asked for `--metrics-address 127.0.0.1:0`. */
  metricsPort: number | undefined;
}

/**
 * `hubble-ts serve` replaying `pcap` (socket and recordings in a new temporary directory), once the replay has
 * ended; `args` are more serve flags.
 */
export async function serveCapture(
  pcap: string,
  args: readonly string[],
  nodeName = 'test-node',
): Promise<ServedCapture> {
  const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-serve-'));
  const socket = join(dir, 'hubble.sock');
  const process = spawnCli([
    'serve',
    '--source',
    `pcap:${pcap}`,
    '--socket-path',
    socket,
    '--recordings-dir',
    join(dir, 'recordings'),
    '--node-name',
    nodeName,
    ...args,
  ]);
  await process.waitFor((out) => out.includes('source ended'), 20_000, 'the capture to be replayed');
  const serving = process
    .stdout()
    .split('\n')
    .find((l) => l.includes('serving Hubble API'));
  const url = (JSON.parse(serving!) as { metrics?: string }).metrics;
  return { process, socket, metricsPort: url === undefined ? undefined : Number(new URL(url).port) };
}

// `hubble-ts version`: what this build is and what it runs on, in the shape of `hubble version`.
import { Command } from 'commander';
import { VERSION } from '../server/version.js';
import { PROCESS_IO, type CliIo } from './observe.js';

/** "hubble-ts v0.1.0+hubble-ts running on Node.js v20.20.2 on linux/x64" (hubble says "compiled with go..."). */
export function versionLine(): string {
  return `hubble-ts ${VERSION} running on Node.js ${process.version} on ${process.platform}/${process.arch}\n`;
}

export function versionCommand(io: CliIo = PROCESS_IO): Command {
  return new Command('version').description('display detailed version information').action(() => {
    io.stdout.write(versionLine());
  });
}

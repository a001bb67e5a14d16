// A small tmpfs, so tests can fill a file system for real (ENOSPC) and free it again. Needs root, as the suite has.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  dir: string;
  unmount(): void;
}

export function mountTmpfs(sizeKiB: number, label: string): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), `hubble-ts-${label}-`));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0700`, 'tmpfs', dir]);
  return {
    dir,
    unmount() {
      try {
        // Lazy: a file a failed test left open must not keep the mount (and the next run's) around.
        execFileSync('umount', ['--lazy', dir]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

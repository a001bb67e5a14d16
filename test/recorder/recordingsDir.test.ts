// The recordings directory: created 0700, refused when open to other users or not a directory.
import { chmodSync, mkdirSync, mkdtempSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepareRecordingsDir, RecordingsDirError } from '../../src/recorder/recordingsDir.js';

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'hubble-ts-recdir-'));
}

describe('prepareRecordingsDir', () => {
  it('creates a missing directory (and its parents) with mode 0700', async () => {
    const dir = join(scratch(), 'a', 'recordings');
    expect(await prepareRecordingsDir(dir)).toBe(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('accepts an existing 0700 directory and resolves symlinks in its path', async () => {
    const base = scratch();
    mkdirSync(join(base, 'real'), { mode: 0o700 });
    symlinkSync(join(base, 'real'), join(base, 'link'));
    expect(await prepareRecordingsDir(join(base, 'link'))).toBe(join(base, 'real'));
  });

  it.each([0o755, 0o750, 0o707, 0o777])('refuses a directory with mode %o, saying how to fix it', async (mode) => {
    const dir = join(scratch(), 'open');
    mkdirSync(dir);
    chmodSync(dir, mode);
    await expect(prepareRecordingsDir(dir)).rejects.toThrow(RecordingsDirError);
    await expect(prepareRecordingsDir(dir)).rejects.toThrow(/open to other users .*chmod 700/);
  });

  it('refuses a path that is a file', async () => {
    const file = join(scratch(), 'file');
    writeFileSync(file, '');
    await expect(prepareRecordingsDir(file)).rejects.toThrow(/not a directory/);
  });
});

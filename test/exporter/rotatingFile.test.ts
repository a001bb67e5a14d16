import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupTimestamp, RotatingFile, type LineBatch } from '../../src/exporter/rotatingFile.js';
import { mountTmpfs, type Tmpfs } from '../harness/tmpfs.js';

/** 2023-11-14T22:13:20.000Z */
const T0 = 1_700_000_000_000;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'hubble-ts-rotating-'));
}

/** `count` lines of exactly 30 bytes: "line 0000 ....\n". */
function lines(count: number, from = 0): Buffer[] {
  return Array.from({ length: count }, (_, i) =>
    Buffer.from(`line ${String(from + i).padStart(4, '0')} `.padEnd(29, '.') + '\n'),
  );
}

function batch(ls: Buffer[]): LineBatch {
  return { lines: ls, written: 0 };
}

/** Polls until `ready` holds (at most 5 s). */
async function waitFor(ready: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function text(ls: Buffer[]): string {
  return Buffer.concat(ls).toString();
}

describe('RotatingFile', () => {
  it('creates its directory 0700 and the file 0600', async () => {
    const dir = join(tempDir(), 'a', 'b');
    const file = await RotatingFile.open({
      path: join(dir, 'events.log'),
      maxSizeBytes: 1000,
      maxBackups: 0,
      compress: false,
    });
    await file.close();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'events.log')).mode & 0o777).toBe(0o600);
  });

  it('rotates before a line would take the file past the limit; backups are named <name>-<UTC ms time><ext>', async () => {
    const dir = tempDir();
    const file = await RotatingFile.open({
      path: join(dir, 'events.log'),
      maxSizeBytes: 100,
      maxBackups: 0,
      compress: false,
      now: () => T0,
    });
    const all = lines(10);
    const b = batch(all);
    await file.write(b);
    await file.close();
    expect(b.written).toBe(10);
    // 3 lines (90 bytes) per file: a 4th would make 120. Rotations in the same millisecond take the next one.
    expect(readdirSync(dir).sort()).toEqual([
      'events-2023-11-14T22-13-20.000.log',
      'events-2023-11-14T22-13-20.001.log',
      'events-2023-11-14T22-13-20.002.log',
      'events.log',
    ]);
    expect(readFileSync(join(dir, 'events-2023-11-14T22-13-20.000.log'), 'utf8')).toBe(text(all.slice(0, 3)));
    expect(readFileSync(join(dir, 'events-2023-11-14T22-13-20.002.log'), 'utf8')).toBe(text(all.slice(6, 9)));
    expect(readFileSync(join(dir, 'events.log'), 'utf8')).toBe(text(all.slice(9)));
    for (const name of readdirSync(dir)) expect(statSync(join(dir, name)).mode & 0o777).toBe(0o600);
  });

  it.each([
    ['flows', 'flows-2023-11-14T22-13-20.000'],
    ['.events', '-2023-11-14T22-13-20.000.events'],
    ['events.json.log', 'events.json-2023-11-14T22-13-20.000.log'],
  ])('names the backup of %s as Go’s filepath.Ext splits it: %s', async (name, backup) => {
    const dir = tempDir();
    const file = await RotatingFile.open({
      path: join(dir, name),
      maxSizeBytes: 30,
      maxBackups: 0,
      compress: false,
      now: () => T0,
    });
    await file.write(batch(lines(2)));
    await file.close();
    expect(readdirSync(dir).sort()).toEqual([backup, name].sort());
  });

  it('keeps the newest N backups', async () => {
    const dir = tempDir();
    let now = T0;
    const file = await RotatingFile.open({
      path: join(dir, 'events.log'),
      maxSizeBytes: 60,
      maxBackups: 2,
      compress: false,
      now: () => (now += 1000),
    });
    const all = lines(9);
    await file.write(batch(all));
    await file.close(); // waits for the pruning
    const names = readdirSync(dir).sort();
    expect(names).toEqual([
      `events-${backupTimestamp(T0 + 3000)}.log`,
      `events-${backupTimestamp(T0 + 4000)}.log`,
      'events.log',
    ]);
    expect(readFileSync(join(dir, names[0]!), 'utf8')).toBe(text(all.slice(4, 6)));
    expect(readFileSync(join(dir, 'events.log'), 'utf8')).toBe(text(all.slice(8)));
  });

  it('gzips backups, which decompress to exactly the lines they held', async () => {
    const dir = tempDir();
    let now = T0;
    const file = await RotatingFile.open({
      path: join(dir, 'events.log'),
      maxSizeBytes: 90,
      maxBackups: 3,
      compress: true,
      now: () => (now += 1000),
    });
    const all = lines(20);
    await file.write(batch(all));
    await file.close();
    const names = readdirSync(dir).sort();
    expect(names).toEqual([
      `events-${backupTimestamp(T0 + 4000)}.log.gz`,
      `events-${backupTimestamp(T0 + 5000)}.log.gz`,
      `events-${backupTimestamp(T0 + 6000)}.log.gz`,
      'events.log',
    ]);
    const restored = names.slice(0, 3).map((n) => gunzipSync(readFileSync(join(dir, n))).toString());
    expect(restored.join('') + readFileSync(join(dir, 'events.log'), 'utf8')).toBe(text(all.slice(9)));
    for (const name of names) expect(statSync(join(dir, name)).mode & 0o777).toBe(0o600);
  });

  it('tidies backups left by an earlier run when it opens, counting a backup and its .gz once', async () => {
    const dir = tempDir();
    const old = (ms: number, suffix = '') => join(dir, `events-${backupTimestamp(ms)}.log${suffix}`);
    writeFileSync(old(T0), 'a\n');
    writeFileSync(old(T0 + 1), 'b\n');
    writeFileSync(old(T0 + 2), 'c\n');
    writeFileSync(old(T0 + 2, '.gz'), 'c-gz\n'); // a compression that finished but was not cleaned up
    writeFileSync(join(dir, 'events-not-a-backup.log'), 'x\n');
    const file = await RotatingFile.open({
      path: join(dir, 'events.log'),
      maxSizeBytes: 1000,
      maxBackups: 2,
      compress: false,
    });
    await file.close();
    expect(readdirSync(dir).sort()).toEqual(
      [
        'events-not-a-backup.log',
        'events.log',
        `events-${backupTimestamp(T0 + 1)}.log`,
        `events-${backupTimestamp(T0 + 2)}.log`,
        `events-${backupTimestamp(T0 + 2)}.log.gz`,
      ].sort(),
    );
  });

  it('cuts off a partial line an earlier run left at the end, and appends after the whole ones', async () => {
    const dir = tempDir();
    const path = join(dir, 'events.log');
    writeFileSync(path, '{"a":1}\n{"b":2}\n{"c":');
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
    const file = await RotatingFile.open({ path, maxSizeBytes: 1000, maxBackups: 0, compress: false, logger });
    await file.write(batch([Buffer.from('{"d":4}\n')]));
    await file.close();
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n{"b":2}\n{"d":4}\n');
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ cutBytes: 5, msg: expect.stringContaining('partial line') });
  });

  it('rotates a file that is already at the limit when it opens', async () => {
    const dir = tempDir();
    const path = join(dir, 'events.log');
    writeFileSync(path, text(lines(4)));
    const file = await RotatingFile.open({ path, maxSizeBytes: 120, maxBackups: 0, compress: false, now: () => T0 });
    await file.close();
    expect(readFileSync(join(dir, 'events-2023-11-14T22-13-20.000.log'), 'utf8')).toBe(text(lines(4)));
    expect(readFileSync(path, 'utf8')).toBe('');
  });

  describe('on a full file system', () => {
    let fs: Tmpfs;
    beforeAll(() => {
      fs = mountTmpfs(64, 'rotating-full');
    });
    afterAll(() => fs?.unmount());

    it('fails with ENOSPC leaving only whole lines, and a retry writes the rest without writing a line twice', async () => {
      const ballast = join(fs.dir, 'ballast');
      writeFileSync(ballast, Buffer.alloc(40 * 1024));
      const path = join(fs.dir, 'events.log');
      const file = await RotatingFile.open({ path, maxSizeBytes: 1024 * 1024, maxBackups: 0, compress: false });
      // 1000 lines of 30 bytes (30,000) cannot fit in the ~24 KiB left; writes of 990 bytes end part way through one.
      const all = lines(1000);
      const b = batch(all);
      const chunks: LineBatch[] = [];
      let error: NodeJS.ErrnoException | undefined;
      for (let i = 0; i < all.length && error === undefined; i += 33) {
        const chunk = batch(all.slice(i, i + 33));
        chunks.push(chunk);
        await file.write(chunk).catch((err: NodeJS.ErrnoException) => (error = err));
      }
      expect(error?.code).toBe('ENOSPC');
      const whole = chunks.reduce((n, c) => n + c.written, 0);
      expect(whole).toBeGreaterThan(0);
      expect(readFileSync(path, 'utf8')).toBe(text(all.slice(0, whole)));

      // The failed write took part of its lines: those that made it whole stay, the partial one was cut off.
      const failed = chunks.at(-1)!;
      expect(failed.written).toBeGreaterThan(0);
      expect(failed.written).toBeLessThan(failed.lines.length);

      rmSync(ballast);
      await file.write(failed); // the retry: what the failed write did not finish
      b.written = (chunks.length - 1) * 33 + failed.lines.length;
      await file.write(b); // and everything after it
      await file.close();
      expect(readFileSync(path, 'utf8')).toBe(text(all));
      expect(existsSync(ballast)).toBe(false);
    });

    it('compresses a backup the full disk could not take once space is freed and lines go in again', async () => {
      const dir = join(fs.dir, 'compress');
      const path = join(dir, 'events.log');
      let now = T0;
      const file = await RotatingFile.open({ path, maxSizeBytes: 3000, maxBackups: 3, compress: true, now: () => now });
      await file.write(batch(lines(100))); // 3,000 bytes: the file is full
      // Nothing left on the file system: the rotation's rename needs no room, its .gz does.
      const ballast = join(fs.dir, 'ballast-compress');
      writeFileSync(ballast, Buffer.alloc(0));
      for (;;) {
        try {
          appendFileSync(ballast, Buffer.alloc(1024));
        } catch {
          break;
        }
      }
      const next = batch(lines(10, 100));
      await expect(file.write(next)).rejects.toMatchObject({ code: 'ENOSPC' });
      await waitFor(() => readdirSync(dir).some((n) => n.endsWith('.log') && n !== 'events.log'));
      rmSync(ballast);
      now += 60_000;
      await file.write(next); // the rest of the lines (reopening the file tidies up again)
      await file.close();
      const names = readdirSync(dir).sort();
      expect(names).toEqual([`events-${backupTimestamp(T0)}.log.gz`, 'events.log']);
      expect(gunzipSync(readFileSync(join(dir, names[0]!))).toString()).toBe(text(lines(100)));
      expect(readFileSync(path, 'utf8')).toBe(text(lines(10, 100)));
    });
  });
});

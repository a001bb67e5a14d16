import { existsSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PCAP_DEFAULT_SNAPLEN, PcapWriter } from '../../src/sink/pcapWriter.js';
import { SinkError } from '../../src/sink/sinkError.js';
import { readPcap } from '../harness/pcapFiles.js';
import { judgePcap, tempDir, validPcap, withTmpfs } from './recording.js';

const dir = tempDir('writer');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileNumber = 0;
const newPath = () => join(dir, `w${fileNumber++}.pcap`);

/** An Ethernet frame of `length` bytes whose bytes say which frame it is. */
function frame(n: number, length: number): Uint8Array {
  const out = new Uint8Array(length).map((_, i) => (n + i) & 0xff);
  out[12] = 0x08;
  out[13] = 0x00;
  return out;
}

describe('PcapWriter', () => {
  it('writes the file header and exact record headers that tshark reads (µs and ns)', async () => {
    for (const nanosecond of [false, true]) {
      const path = newPath();
      const writer = await PcapWriter.create(path, { nanosecond, snaplen: 96 });
      const frames = [frame(1, 60), frame(2, 96), frame(3, 14)];
      writer.append(1_700_000_000, 123_456_789, frames[0]!, 0, 60, 60, -1);
      writer.append(1_700_000_001, 999_999_999, frames[1]!, 0, 96, 1514, -1);
      writer.append(1_700_000_002, 0, frames[2]!, 0, 14, 14, -1);
      await writer.close();
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const file = readPcap(path);
      expect(file).toMatchObject({ linkType: 1, nanosecond, snaplen: 96 });
      expect(file.records.map((r) => [r.seconds, r.fraction, r.data.length, r.origLen])).toEqual([
        [1_700_000_000, nanosecond ? 123_456_789 : 123_456, 60, 60],
        [1_700_000_001, nanosecond ? 999_999_999 : 999_999, 96, 1514],
        [1_700_000_002, 0, 14, 14],
      ]);
      file.records.forEach((r, i) => expect(r.data).toEqual(frames[i]));
      const verdict = await judgePcap(path);
      expect(verdict.packets).toBe(3);
      expect(verdict.lens).toEqual([60, 1514, 14]);
      expect(verdict.times[0]).toBe(nanosecond ? '1700000000.123456789' : '1700000000.123456000');
    }
  });

  it('writes the default snaplen of 262144 when no maximum is set, and an empty recording is a valid pcap', async () => {
    const path = newPath();
    const writer = await PcapWriter.create(path);
    await writer.close();
    expect(readPcap(path).snaplen).toBe(PCAP_DEFAULT_SNAPLEN);
    expect(await validPcap(path)).toBe(0);
  });

  it('puts an Ethernet header in front of packets without one, cut like the rest', async () => {
    const path = newPath();
    const writer = await PcapWriter.create(path);
    const ip = new Uint8Array(40).map((_, i) => i);
    writer.append(1, 0, ip, 0, 54, 54, 0x86dd);
    writer.append(1, 0, ip, 0, 13, 54, 0x0800);
    await writer.close();
    const [whole, cut] = readPcap(path).records;
    expect(Array.from(whole!.data.subarray(0, 14))).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x86, 0xdd]);
    expect(whole!.data.subarray(14)).toEqual(ip);
    expect(Array.from(cut!.data)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08]);
  });

  it('batches records into few writes and grows the file one whole record at a time', async () => {
    const path = newPath();
    const sizes: number[] = [];
    let writes = 0;
    const writer = await PcapWriter.create(path, {
      batchBytes: 4096,
      onWritten: (size) => {
        writes++;
        sizes.push(size);
      },
    });
    const n = 2000;
    for (let i = 0; i < n; i++) {
      writer.append(i, 0, frame(i, 60 + (i % 40)), 0, 60 + (i % 40), 60 + (i % 40), -1);
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    }
    await writer.close();
    // Every size a follower was told about ends on a record boundary.
    const boundaries = new Set<number>();
    let at = 24;
    for (let i = 0; i <= n; i++) {
      boundaries.add(at);
      at += 16 + 60 + (i % 40);
    }
    expect(sizes.every((s) => boundaries.has(s))).toBe(true);
    expect(sizes.at(-1)).toBe(statSync(path).size);
    expect(writes).toBeLessThan(n / 20);
    expect(await validPcap(path)).toBe(n);
  });

  it('writes a record that is bigger than a batch', async () => {
    const path = newPath();
    const writer = await PcapWriter.create(path, { batchBytes: 1024 });
    writer.append(1, 0, frame(1, 9000), 0, 9000, 9000, -1);
    writer.append(2, 0, frame(2, 60), 0, 60, 60, -1);
    await writer.close();
    expect(readPcap(path).records.map((r) => r.data.length)).toEqual([9000, 60]);
  });

  it('writes at once from writeAtRecords queued records, full batch or not, and says when there is room', async () => {
    const path = newPath();
    const writes: number[] = [];
    let written: () => void = () => undefined;
    // Neither a full batch nor the flush delay would start a write within this test.
    const writer = await PcapWriter.create(path, {
      flushDelayMs: 60_000,
      writeAtRecords: 3,
      onWritten: (_size, records) => {
        writes.push(records);
        written();
      },
    });
    writer.append(1, 0, frame(1, 60), 0, 60, 60, -1);
    writer.append(2, 0, frame(2, 60), 0, 60, 60, -1);
    await new Promise((r) => setTimeout(r, 50));
    expect(writes).toEqual([]);
    expect(writer.waitBelow(3)).toBeUndefined();
    const wrote = new Promise<void>((resolve) => (written = resolve));
    writer.append(3, 0, frame(3, 60), 0, 60, 60, -1);
    await wrote;
    expect(writes).toEqual([3]);
    // Below writeAtRecords, waiting for room writes what there is.
    writer.append(4, 0, frame(4, 60), 0, 60, 60, -1);
    const room = writer.waitBelow(1);
    expect(room).toBeInstanceOf(Promise);
    await room;
    expect(writer.pendingRecords).toBe(0);
    expect(writes).toEqual([3, 1]);
    await writer.close();
    expect(readPcap(path).records.map((r) => r.seconds)).toEqual([1, 2, 3, 4]);
  });

  it('stops making anyone wait for room once writing has failed', async () => {
    await withTmpfs('64k', async (mnt) => {
      const writer = await PcapWriter.create(join(mnt, 'full.pcap'), { batchBytes: 16384, onError: () => undefined });
      for (let i = 0; i < 100; i++) writer.append(i, 0, frame(i, 1000), 0, 1000, 1000, -1);
      await writer.waitBelow(1);
      expect(writer.error?.code).toBe('DISK_FULL');
      expect(writer.waitBelow(1)).toBeUndefined();
      await writer.close().catch(() => undefined);
    });
  });

  it('refuses to create a file that exists, or one in a missing directory, saying so', async () => {
    const path = newPath();
    writeFileSync(path, 'precious');
    await expect(PcapWriter.create(path)).rejects.toMatchObject({
      code: 'FILE_EXISTS',
      message: `${path} already exists (recordings never overwrite a file): EEXIST`,
    });
    const missing = join(dir, 'nope', 'x.pcap');
    await expect(PcapWriter.create(missing)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(existsSync(missing)).toBe(false);
  });

  it('fills a disk: stops with DISK_FULL and leaves the whole records written as a valid pcap', async () => {
    await withTmpfs('64k', async (mnt) => {
      const path = join(mnt, 'full.pcap');
      const errors: SinkError[] = [];
      const writer = await PcapWriter.create(path, { batchBytes: 16384, onError: (e) => errors.push(e) });
      for (let i = 0; i < 400; i++) {
        writer.append(i, 0, frame(i, 1000), 0, 1000, 1000, -1);
        if (i % 10 === 9) await new Promise((r) => setImmediate(r));
      }
      await expect(writer.close()).rejects.toMatchObject({
        code: 'DISK_FULL',
        message: `disk full while writing ${path}: ENOSPC`,
      });
      expect(errors).toHaveLength(1);
      const verdict = await judgePcap(path);
      expect(verdict.packets).toBeGreaterThan(10);
      expect(statSync(path).size).toBe(writer.fileSize);
      expect(writer.fileSize).toBe(24 + verdict.packets * 1016);
    });
  });

  it('refuses to start on a full disk, leaving no file behind', async () => {
    await withTmpfs('16k', async (mnt) => {
      writeFileSync(join(mnt, 'filler'), new Uint8Array(16 * 1024));
      const path = join(mnt, 'x.pcap');
      await expect(PcapWriter.create(path)).rejects.toMatchObject({ code: 'DISK_FULL' });
      expect(existsSync(path)).toBe(false);
    });
  });

  it('notices a file deleted or replaced while it is written', async () => {
    for (const what of ['deleted', 'replaced'] as const) {
      const path = newPath();
      const writer = await PcapWriter.create(path, { identityCheckMs: 0 });
      writer.append(1, 0, frame(1, 60), 0, 60, 60, -1);
      await writer.flush();
      if (what === 'deleted') {
        unlinkSync(path);
      } else {
        renameSync(path, `${path}.old`);
        writeFileSync(path, 'someone else');
      }
      writer.append(2, 0, frame(2, 60), 0, 60, 60, -1);
      const error = await writer.close().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SinkError);
      expect(error).toMatchObject({
        code: what === 'deleted' ? 'FILE_REMOVED' : 'FILE_REPLACED',
        message: expect.stringContaining(path) as string,
      });
    }
  });
});

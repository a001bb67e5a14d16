// How a sink should get records into its file, measured: the PcapWriter (records copied into recycled batch buffers,
// one writev per turn of the event loop for whatever piled up) at a few batch sizes, against p-queue running one
// write task per record, and p-queue running one task per 64 KiB batch. The producer behaves like a capture
// source: bursts of records appended synchronously, then a yield.
//
// Usage: node --import tsx bench/sinkWrites.ts [RECORDS]   (prints human lines; the choice is argued in pcapWriter.ts)
import { closeSync, mkdtempSync, openSync, rmSync, statSync, write } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import PQueue from 'p-queue';
import {
  encodePcapFileHeader,
  encodePcapRecordHeader,
  NATIVE_LITTLE_ENDIAN,
  PCAP_FILE_HEADER_LENGTH,
  PCAP_RECORD_HEADER_LENGTH,
  PcapWriter,
} from '../src/sink/pcapWriter.js';

const RECORDS = Number(process.argv[2] ?? 500_000);
const RECORD_BYTES = 120;
const BURST = 4096;
const log = (line: string) => process.stdout.write(line + '\n');
const packet = new Uint8Array(RECORD_BYTES).map((_, i) => i);
const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-sinkwrites-'));

function writeAt(fd: number, data: Uint8Array, position: number): Promise<void> {
  return new Promise((resolve, reject) =>
    write(fd, data, 0, data.length, position, (err) => (err ? reject(err) : resolve())),
  );
}

/** Runs `produce(i)` for every record in bursts with a yield between them; resolves with the seconds `finish` ends at. */
async function drive(records: number, produce: (i: number) => void, finish: () => Promise<void>): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < records;) {
    const end = Math.min(records, i + BURST);
    for (; i < end; i++) produce(i);
    await nextTurn();
  }
  await finish();
  return (performance.now() - start) / 1000;
}

async function pcapWriter(records: number, batchBytes: number): Promise<number> {
  const path = join(dir, `writer-${batchBytes}.pcap`);
  const writer = await PcapWriter.create(path, { batchBytes });
  const seconds = await drive(
    records,
    (i) => writer.append(i, 0, packet, 0, RECORD_BYTES, RECORD_BYTES, -1),
    () => writer.close(),
  );
  check(path, records);
  return seconds;
}

async function pQueuePerRecord(records: number): Promise<number> {
  const path = join(dir, 'pqueue-record.pcap');
  const fd = openSync(path, 'wx', 0o600);
  const header = new Uint8Array(PCAP_FILE_HEADER_LENGTH);
  encodePcapFileHeader(header, 0);
  await writeAt(fd, header, 0);
  const queue = new PQueue({ concurrency: 1 });
  let position = PCAP_FILE_HEADER_LENGTH;
  const seconds = await drive(
    records,
    (i) => {
      const record = new Uint8Array(PCAP_RECORD_HEADER_LENGTH + RECORD_BYTES);
      encodePcapRecordHeader(new DataView(record.buffer), 0, i, 0, RECORD_BYTES, RECORD_BYTES, NATIVE_LITTLE_ENDIAN);
      record.set(packet, PCAP_RECORD_HEADER_LENGTH);
      const at = position;
      position += record.length;
      void queue.add(() => writeAt(fd, record, at));
    },
    () => queue.onIdle(),
  );
  closeSync(fd);
  check(path, records);
  return seconds;
}

async function pQueuePerBatch(records: number, batchBytes: number): Promise<number> {
  const path = join(dir, 'pqueue-batch.pcap');
  const fd = openSync(path, 'wx', 0o600);
  const header = new Uint8Array(PCAP_FILE_HEADER_LENGTH);
  encodePcapFileHeader(header, 0);
  await writeAt(fd, header, 0);
  const queue = new PQueue({ concurrency: 1 });
  let position = PCAP_FILE_HEADER_LENGTH;
  let batch = new Uint8Array(batchBytes);
  let view = new DataView(batch.buffer);
  let used = 0;
  const submit = () => {
    if (used === 0) return;
    const full = batch.subarray(0, used);
    const at = position;
    position += used;
    void queue.add(() => writeAt(fd, full, at));
    batch = new Uint8Array(batchBytes);
    view = new DataView(batch.buffer);
    used = 0;
  };
  const seconds = await drive(
    records,
    (i) => {
      if (used + PCAP_RECORD_HEADER_LENGTH + RECORD_BYTES > batchBytes) submit();
      encodePcapRecordHeader(view, used, i, 0, RECORD_BYTES, RECORD_BYTES, NATIVE_LITTLE_ENDIAN);
      batch.set(packet, used + PCAP_RECORD_HEADER_LENGTH);
      used += PCAP_RECORD_HEADER_LENGTH + RECORD_BYTES;
    },
    async () => {
      submit();
      await queue.onIdle();
    },
  );
  closeSync(fd);
  check(path, records);
  return seconds;
}

function check(path: string, records: number): void {
  const expected = PCAP_FILE_HEADER_LENGTH + records * (PCAP_RECORD_HEADER_LENGTH + RECORD_BYTES);
  const size = statSync(path).size;
  if (size !== expected) throw new Error(`${path}: ${size} bytes, expected ${expected}`);
  rmSync(path);
}

async function best(label: string, records: number, run: () => Promise<number>): Promise<void> {
  let seconds = Infinity;
  for (let round = 0; round < 3; round++) seconds = Math.min(seconds, await run());
  log(
    `sink writes, ${label}: ${records} records in ${seconds.toFixed(3)} s = ${Math.round(records / seconds).toLocaleString('en')} records/s`,
  );
}

try {
  for (const batchBytes of [16 * 1024, 64 * 1024, 256 * 1024]) {
    await best(`PcapWriter, ${batchBytes / 1024} KiB batches`, RECORDS, () => pcapWriter(RECORDS, batchBytes));
  }
  await best('p-queue, one task per 64 KiB batch', RECORDS, () => pQueuePerBatch(RECORDS, 64 * 1024));
  const few = Math.min(RECORDS, 100_000);
  await best('p-queue, one write task per record', few, () => pQueuePerRecord(few));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

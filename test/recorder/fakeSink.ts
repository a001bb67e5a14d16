// A Sink for store tests that must control exactly when a "running" file grows and ends: it writes a real pcap file
// (header, then the records the test appends) and implements the contract in src/sink/types.ts.
import { appendFileSync, writeFileSync } from 'node:fs';
import type { RecordingStatistics, Sink, SinkEnd } from '../../src/sink/types.js';

export class FakeSink implements Sink {
  readonly ruleId = 1;
  fileSize = 0;
  private readonly stats: RecordingStatistics = { packetsCaptured: 0, bytesCaptured: 0, packetsLost: 0, bytesLost: 0 };
  private readonly listeners = new Set<(size: number) => void>();
  private resolveEnded!: (end: SinkEnd) => void;
  readonly ended = new Promise<SinkEnd>((resolve) => (this.resolveEnded = resolve));
  stopCalls = 0;

  constructor(readonly path: string) {
    const header = Buffer.alloc(24);
    header.writeUInt32LE(0xa1b2c3d4, 0);
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
    header.writeUInt32LE(262144, 16);
    header.writeUInt32LE(1, 20);
    writeFileSync(path, header, { flag: 'wx', mode: 0o600 });
    this.fileSize = 24;
  }

  /** Appends one pcap record holding `frame`. */
  append(frame: Buffer): void {
    const record = Buffer.alloc(16 + frame.length);
    record.writeUInt32LE(this.stats.packetsCaptured + 1, 0);
    record.writeUInt32LE(frame.length, 8);
    record.writeUInt32LE(frame.length, 12);
    frame.copy(record, 16);
    appendFileSync(this.path, record);
    this.fileSize += record.length;
    this.stats.packetsCaptured++;
    this.stats.bytesCaptured += frame.length;
    for (const l of this.listeners) l(this.fileSize);
  }

  statistics(): RecordingStatistics {
    return { ...this.stats };
  }

  onFileGrowth(listener: (fileSize: number) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  stop(reason: 'stopped' | 'shutdown' = 'stopped'): Promise<SinkEnd> {
    this.stopCalls++;
    this.listeners.clear();
    this.resolveEnded({ reason, statistics: this.statistics() });
    return this.ended;
  }
}

/** An Ethernet frame of `length` bytes (contents do not matter to the store). */
export function frame(length: number, fill = 0xab): Buffer {
  return Buffer.alloc(length, fill);
}

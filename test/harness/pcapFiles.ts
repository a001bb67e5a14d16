// Pcap files for tests: classic pcap encoded by the product's writer (src/sink/pcapWriter.ts), pcapng written byte by
// byte (any byte order, resolution, block mix), frames written through text2pcap (an independent writer, so tshark
// judges the very bytes we decode), and the records of a classic pcap read back. Test-only: the product's reader is
// src/source/pcapFile.ts, and tshark judges both.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  encodePcapFileHeader,
  encodePcapRecordHeader,
  PCAP_FILE_HEADER_LENGTH,
  PCAP_RECORD_HEADER_LENGTH,
} from '../../src/sink/pcapWriter.js';

const run = promisify(execFile);

export interface PcapRecord {
  seconds: number;
  /** Fraction of the second in the file's unit (microseconds or nanoseconds). */
  fraction: number;
  data: Uint8Array;
  origLen?: number;
}

export interface PcapFileOptions {
  linkType: number;
  littleEndian?: boolean;
  nanosecond?: boolean;
  snaplen?: number;
}

/** A classic pcap file holding `records`, encoded by the product's pcap writer (any byte order, either resolution). */
export function writePcap(records: readonly PcapRecord[], options: PcapFileOptions): Uint8Array {
  const le = options.littleEndian ?? true;
  const size = PCAP_FILE_HEADER_LENGTH + records.reduce((n, r) => n + PCAP_RECORD_HEADER_LENGTH + r.data.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = encodePcapFileHeader(out, 0, {
    linkType: options.linkType,
    littleEndian: le,
    nanosecond: options.nanosecond ?? false,
    snaplen: options.snaplen ?? 262144,
  });
  for (const r of records) {
    encodePcapRecordHeader(view, at, r.seconds, r.fraction, r.data.length, r.origLen ?? r.data.length, le);
    out.set(r.data, at + PCAP_RECORD_HEADER_LENGTH);
    at += PCAP_RECORD_HEADER_LENGTH + r.data.length;
  }
  return out;
}

/** Header fields and records of a classic pcap file (either byte order, either resolution). */
export function readPcap(path: string): {
  linkType: number;
  nanosecond: boolean;
  snaplen: number;
  records: PcapRecord[];
} {
  const bytes = new Uint8Array(readFileSync(path));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, true);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const nanosecond = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  if (!le && magic !== 0xd4c3b2a1 && magic !== 0x4d3cb2a1)
    throw new Error(`${path}: not a classic pcap file (magic ${magic.toString(16)})`);
  const records: PcapRecord[] = [];
  let at = 24;
  while (at + 16 <= bytes.length) {
    const capLen = view.getUint32(at + 8, le);
    records.push({
      seconds: view.getUint32(at, le),
      fraction: view.getUint32(at + 4, le),
      origLen: view.getUint32(at + 12, le),
      data: bytes.slice(at + 16, at + 16 + capLen),
    });
    at += 16 + capLen;
  }
  return { linkType: view.getUint32(20, le) & 0xffff, nanosecond, snaplen: view.getUint32(16, le), records };
}

/** Writes Ethernet frames to a new pcap file through text2pcap; resolves with its path. */
export async function writePcapWithText2pcap(frames: readonly Uint8Array[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-frames-'));
  const lines: string[] = [];
  for (const frame of frames) {
    for (let o = 0; o < frame.length; o += 16) {
      const bytes = Array.from(frame.subarray(o, o + 16), (b) => b.toString(16).padStart(2, '0')).join(' ');
      lines.push(`${o.toString(16).padStart(6, '0')} ${bytes}`);
    }
  }
  const text = join(dir, 'frames.txt');
  const pcap = join(dir, 'frames.pcap');
  writeFileSync(text, lines.join('\n') + '\n');
  await run('text2pcap', ['-q', '-l', '1', text, pcap]);
  return pcap;
}

export type PcapngBlock =
  /** Starts a section; later blocks use its byte order. */
  | { type: 'section'; littleEndian?: boolean; major?: number; minor?: number }
  | {
      type: 'interface';
      linkType: number;
      snaplen?: number;
      name?: string;
      /** if_tsresol byte: 6 = microseconds (the default), 9 = nanoseconds, 0x80 | n = 2^-n. */
      tsresol?: number;
      /** if_tsoffset in seconds. */
      tsoffset?: bigint;
    }
  | { type: 'enhanced'; interfaceId: number; timestamp: bigint; data: Uint8Array; origLen?: number; flags?: number }
  | { type: 'simple'; data: Uint8Array; origLen?: number }
  | { type: 'packet'; interfaceId: number; timestamp: bigint; data: Uint8Array; origLen?: number; flags?: number }
  /** Any other block, body as given (padded to 4 bytes). */
  | { type: 'other'; blockType: number; body: Uint8Array };

class Bytes {
  private parts: number[] = [];
  constructor(private readonly le: boolean) {}
  u8(v: number) {
    this.parts.push(v & 0xff);
  }
  u16(v: number) {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, this.le);
    this.parts.push(...b);
  }
  u32(v: number) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, this.le);
    this.parts.push(...b);
  }
  u64(v: bigint) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), this.le);
    this.parts.push(...b);
  }
  bytes(v: Uint8Array) {
    for (const x of v) this.parts.push(x);
    while (this.parts.length % 4 !== 0) this.parts.push(0);
  }
  option(code: number, value: Uint8Array) {
    this.u16(code);
    this.u16(value.length);
    this.bytes(value);
  }
  get length() {
    return this.parts.length;
  }
  toArray() {
    return Uint8Array.from(this.parts);
  }
}

function encodeOption(le: boolean, write: (b: Bytes) => void): Uint8Array {
  const b = new Bytes(le);
  write(b);
  return b.toArray();
}

/** A pcapng file of the given blocks in order. */
export function writePcapng(blocks: readonly PcapngBlock[]): Uint8Array {
  const out: Uint8Array[] = [];
  let le = true;
  for (const block of blocks) {
    if (block.type === 'section') le = block.littleEndian ?? true;
    const body = new Bytes(le);
    let type: number;
    switch (block.type) {
      case 'section':
        type = 0x0a0d0d0a;
        body.u32(0x1a2b3c4d);
        body.u16(block.major ?? 1);
        body.u16(block.minor ?? 0);
        body.u64(-1n);
        break;
      case 'interface': {
        type = 1;
        body.u16(block.linkType);
        body.u16(0);
        body.u32(block.snaplen ?? 0);
        let options = false;
        if (block.name !== undefined) {
          body.option(2, new TextEncoder().encode(block.name));
          options = true;
        }
        if (block.tsresol !== undefined) {
          body.option(9, Uint8Array.of(block.tsresol));
          options = true;
        }
        if (block.tsoffset !== undefined) {
          body.option(
            14,
            encodeOption(le, (b) => b.u64(block.tsoffset!)),
          );
          options = true;
        }
        if (options) body.option(0, new Uint8Array(0));
        break;
      }
      case 'enhanced':
      case 'packet': {
        type = block.type === 'enhanced' ? 6 : 2;
        if (block.type === 'enhanced') {
          body.u32(block.interfaceId);
        } else {
          body.u16(block.interfaceId);
          body.u16(0);
        }
        body.u32(Number(block.timestamp >> 32n));
        body.u32(Number(block.timestamp & 0xffffffffn));
        body.u32(block.data.length);
        body.u32(block.origLen ?? block.data.length);
        body.bytes(block.data);
        if (block.flags !== undefined) {
          body.option(
            2,
            encodeOption(le, (b) => b.u32(block.flags!)),
          );
          body.option(0, new Uint8Array(0));
        }
        break;
      }
      case 'simple':
        type = 3;
        body.u32(block.origLen ?? block.data.length);
        body.bytes(block.data);
        break;
      case 'other':
        type = block.blockType;
        body.bytes(block.body);
        break;
    }
    const whole = new Bytes(le);
    const length = 12 + body.length;
    whole.u32(type);
    whole.u32(length);
    whole.bytes(body.toArray());
    whole.u32(length);
    out.push(whole.toArray());
  }
  const total = out.reduce((n, b) => n + b.length, 0);
  const file = new Uint8Array(total);
  let at = 0;
  for (const b of out) {
    file.set(b, at);
    at += b.length;
  }
  return file;
}

// Classic pcap (libpcap's savefile): a 24-byte file header, then records of a 16-byte header and the captured bytes.
// Either byte order, microsecond or nanosecond timestamps.
//
// File header: magic u32 | version major u16, minor u16 | thiszone i32 | sigfigs u32 | snaplen u32 | link type u32
// Record:      seconds u32 | microseconds or nanoseconds u32 | captured length u32 | original length u32 | bytes

import type { CaptureReader, ReplayTarget } from './captureReader.js';
import { Direction, isSupportedLinkType, linkTypeName } from './linkTypes.js';
import { SourceError } from './sourceError.js';

export const PCAP_FILE_HEADER_LEN = 24;
const RECORD_HEADER_LEN = 16;

/** Magic numbers as read little-endian from the first four bytes. */
export const PcapMagic = {
  MICROS_LE: 0xa1b2c3d4,
  MICROS_BE: 0xd4c3b2a1,
  NANOS_LE: 0xa1b23c4d,
  NANOS_BE: 0x4d3cb2a1,
  /** Alexey Kuznetsov's patched libpcap, with 8 more bytes per record header. */
  MODIFIED_LE: 0xa1b2cd34,
  MODIFIED_BE: 0x34cdb2a1,
} as const;

/**
 * What a record may claim at most when the snaplen is smaller: libpcap and Wireshark accept records up to 256 KiB
 * whatever the header says (some writers put a wrong snaplen there), so we do too.
 */
const MIN_RECORD_LIMIT = 262144;
/** Beyond this a "record" is damage, whatever the snaplen says; it also bounds what we buffer for one record. */
const MAX_RECORD_LIMIT = 64 * 1024 * 1024;

export interface PcapFileHeader {
  littleEndian: boolean;
  nanosecond: boolean;
  versionMajor: number;
  versionMinor: number;
  snaplen: number;
  linkType: number;
}

/** Whether the first four bytes (read little-endian) are a classic pcap magic, including the unsupported modified one. */
export function isPcapMagic(magic: number): boolean {
  switch (magic) {
    case PcapMagic.MICROS_LE:
    case PcapMagic.MICROS_BE:
    case PcapMagic.NANOS_LE:
    case PcapMagic.NANOS_BE:
    case PcapMagic.MODIFIED_LE:
    case PcapMagic.MODIFIED_BE:
      return true;
    default:
      return false;
  }
}

/** Reads and checks the file header at the start of `bytes`; throws SourceError naming `path`. */
export function parsePcapFileHeader(bytes: Uint8Array, path: string): PcapFileHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, true);
  if (magic === PcapMagic.MODIFIED_LE || magic === PcapMagic.MODIFIED_BE) {
    throw new SourceError(
      'UNSUPPORTED_FORMAT',
      `${path}: a "modified" pcap (Kuznetsov patches) is not supported; convert it with editcap -F pcap`,
    );
  }
  if (bytes.length < PCAP_FILE_HEADER_LEN) {
    throw new SourceError(
      'TRUNCATED',
      `${path}: truncated: the file ends after ${bytes.length} of the ${PCAP_FILE_HEADER_LEN} bytes of the pcap file header`,
      {
        offset: 0,
        record: 0,
      },
    );
  }
  const littleEndian = magic === PcapMagic.MICROS_LE || magic === PcapMagic.NANOS_LE;
  const nanosecond = magic === PcapMagic.NANOS_LE || magic === PcapMagic.NANOS_BE;
  const versionMajor = view.getUint16(4, littleEndian);
  const versionMinor = view.getUint16(6, littleEndian);
  if (versionMajor !== 2) {
    throw new SourceError(
      'UNSUPPORTED_FORMAT',
      `${path}: pcap version ${versionMajor}.${versionMinor} is not supported (only 2.x)`,
    );
  }
  // The low 16 bits are the link type; the high bits may say whether frames end in an FCS, which we leave in place.
  const linkType = view.getUint32(20, littleEndian) & 0xffff;
  return { littleEndian, nanosecond, versionMajor, versionMinor, snaplen: view.getUint32(16, littleEndian), linkType };
}

/** Throws UNSUPPORTED_LINK_TYPE when no frame of the file could be normalised. */
export function requireSupportedLinkType(header: PcapFileHeader, path: string): void {
  if (!isSupportedLinkType(header.linkType)) {
    throw new SourceError(
      'UNSUPPORTED_LINK_TYPE',
      `${path}: frames of ${linkTypeName(header.linkType)} cannot be turned into Ethernet (supported: ETHERNET, LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6, NULL, LOOP)`,
    );
  }
}

export class PcapRecordReader implements CaptureReader {
  needed = RECORD_HEADER_LEN;
  /** Records processed so far. */
  private records = 0;
  private readonly littleEndian: boolean;
  private readonly fractionToNanos: number;
  private readonly limit: number;

  constructor(
    private readonly header: PcapFileHeader,
    private readonly target: ReplayTarget,
  ) {
    this.littleEndian = header.littleEndian;
    this.fractionToNanos = header.nanosecond ? 1 : 1000;
    this.limit = header.snaplen <= MIN_RECORD_LIMIT ? MIN_RECORD_LIMIT : Math.min(header.snaplen, MAX_RECORD_LIMIT);
  }

  consume(buf: Uint8Array, view: DataView, pos: number, end: number, base: number): number {
    const le = this.littleEndian;
    const toNanos = this.fractionToNanos;
    const limit = this.limit;
    const linkType = this.header.linkType;
    const { builder, to, state } = this.target;
    const canWait = this.target.backlog !== undefined;
    while (end - pos >= RECORD_HEADER_LEN) {
      const capLen = view.getUint32(pos + 8, le);
      if (capLen > limit) throw this.tooLong(capLen, base + pos);
      const next = pos + RECORD_HEADER_LEN + capLen;
      if (next > end) {
        this.needed = RECORD_HEADER_LEN + capLen;
        return pos;
      }
      this.records++;
      let seconds = view.getUint32(pos, le);
      let nanos = view.getUint32(pos + 4, le) * toNanos;
      if (nanos >= 1e9) {
        // Out of range, but tools accept it; carry so the timestamp stays valid.
        seconds += Math.floor(nanos / 1e9);
        nanos %= 1e9;
      }
      const origLen = view.getUint32(pos + 12, le);
      const asked = builder.publish(
        to,
        buf,
        pos + RECORD_HEADER_LEN,
        capLen,
        origLen,
        linkType,
        Direction.UNKNOWN,
        0,
        seconds,
        nanos,
      );
      pos = next;
      if (asked === true && canWait) {
        state.waiting = true;
        break;
      }
      if (state.aborted) break;
    }
    this.needed = RECORD_HEADER_LEN;
    return pos;
  }

  finish(offset: number, remaining: number): void {
    if (remaining === 0) return;
    const record = this.records + 1;
    const what =
      remaining < RECORD_HEADER_LEN
        ? `the file ends after ${remaining} of the ${RECORD_HEADER_LEN} bytes of its header`
        : `it holds ${this.needed - RECORD_HEADER_LEN} captured bytes but the file ends after ${remaining - RECORD_HEADER_LEN} of them`;
    throw new SourceError('TRUNCATED', `${this.target.path}: truncated: record ${record} at byte ${offset}: ${what}`, {
      offset,
      record,
    });
  }

  private tooLong(capLen: number, offset: number): SourceError {
    const record = this.records + 1;
    const snaplen = this.header.snaplen;
    const limit =
      snaplen === this.limit
        ? `more than the snaplen ${snaplen}`
        : snaplen < this.limit
          ? `more than the snaplen ${snaplen} (or the ${this.limit} tools accept regardless)`
          : `more than the ${this.limit} a record may hold`;
    return new SourceError(
      'CORRUPT',
      `${this.target.path}: corrupt: record ${record} at byte ${offset} claims ${capLen} captured bytes, ${limit}`,
      {
        offset,
        record,
      },
    );
  }
}

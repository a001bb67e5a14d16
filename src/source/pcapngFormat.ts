// pcapng (draft-ietf-opsawg-pcapng): blocks of type u32 | total length u32 | body | total length u32, in the byte
// order its section header chose. We read sections, interface descriptions (link type, snaplen, if_name,
// if_tsresol, if_tsoffset) and the three packet blocks (enhanced, simple, obsolete); every other block is skipped.

import type { CaptureReader, ReplayTarget } from './captureReader.js';
import { Direction, LinkType } from './linkTypes.js';
import { SourceError } from './sourceError.js';

export const PCAPNG_SECTION_HEADER = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const BYTE_ORDER_MAGIC_SWAPPED = 0x4d3c2b1a;

/**
 * Refuses a capture whose first block is a section header with a byte-order magic neither way round (what reading it
 * would refuse at its first block), from its first bytes: as a pcap file with a bad header is refused before serving.
 */
export function requireSectionByteOrder(head: Uint8Array, path: string): void {
  if (head.length < 12) return;
  const magic = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(8, true);
  if (magic === BYTE_ORDER_MAGIC || magic === BYTE_ORDER_MAGIC_SWAPPED) return;
  throw new SourceError('CORRUPT', `${path}: corrupt: block 1 at byte 0: ${badByteOrder(magic)}`, {
    offset: 0,
    record: 1,
  });
}

function badByteOrder(magic: number): string {
  return `section header has byte-order magic 0x${hex(magic)} instead of 0x1a2b3c4d`;
}

const BlockType = {
  INTERFACE_DESCRIPTION: 1,
  PACKET: 2,
  SIMPLE_PACKET: 3,
  ENHANCED_PACKET: 6,
} as const;

const blockNames: Readonly<Record<number, string>> = {
  [PCAPNG_SECTION_HEADER]: 'section header',
  [BlockType.INTERFACE_DESCRIPTION]: 'interface description',
  [BlockType.PACKET]: 'obsolete packet',
  [BlockType.SIMPLE_PACKET]: 'simple packet',
  [BlockType.ENHANCED_PACKET]: 'enhanced packet',
};

const BLOCK_OVERHEAD = 12;
const MIN_LENGTH = {
  SECTION_HEADER: 28,
  INTERFACE_DESCRIPTION: 20,
  /** Also the obsolete packet block's. */
  ENHANCED_PACKET: 32,
  SIMPLE_PACKET: 16,
} as const;
/** Larger blocks are damage; this also bounds what we buffer for one block. */
const MAX_BLOCK_LENGTH = 64 * 1024 * 1024;

const Option = {
  END: 0,
  /** epb_flags / pack_flags: bits 0-1 are the direction. */
  FLAGS: 2,
  IF_NAME: 2,
  IF_TSRESOL: 9,
  IF_TSOFFSET: 14,
} as const;

const TWO_32 = 4294967296;
/** Below this a 64-bit timestamp (high word < 2^20) fits a double exactly, with room for the division's checks. */
const EXACT_HIGH_WORD = 0x100000;
/** Up to this many units per second, long division by 16-bit digits keeps intermediates below 2^53. */
const MAX_DIGIT_DIVISOR = 2 ** 37;

interface Interface {
  linkType: number;
  /** 0 means no limit. */
  snaplen: number;
  /**
   * What the interface's events carry as ifindex: its position in the section plus one when it has a name
   * (registered with that name), else 0. pcapng records no OS interface index; cooked v2 frames carry their own.
   */
  ifindex: number;
  unitsPerSecond: number;
  unitsPerSecondBig: bigint;
  /** Nanoseconds in one unit when that is a whole number (resolutions of 10^-1 .. 10^-9 s), else 0. */
  nanosPerUnit: number;
  /** if_tsoffset: seconds to add to every timestamp. */
  offsetSeconds: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

export class PcapngBlockReader implements CaptureReader {
  needed = BLOCK_OVERHEAD;
  /** Byte order of the current section. */
  private littleEndian = true;
  private interfaces: Interface[] = [];
  private blocks = 0;
  private packets = 0;
  private sections = 0;
  /** Simple packet blocks carry no time; they get the last time seen before them. */
  private seconds = 0;
  private nanos = 0;

  constructor(private readonly target: ReplayTarget) {}

  consume(buf: Uint8Array, view: DataView, pos: number, end: number, base: number): number {
    const { builder, to, state } = this.target;
    const canWait = this.target.backlog !== undefined;
    while (end - pos >= BLOCK_OVERHEAD) {
      let le = this.littleEndian;
      let type = view.getUint32(pos, le);
      if (type === PCAPNG_SECTION_HEADER || this.sections === 0) {
        // The section header's type reads the same in both byte orders; its byte-order magic picks the order.
        if (view.getUint32(pos, true) !== PCAPNG_SECTION_HEADER) {
          throw this.corrupt(
            base + pos,
            `starts with block type 0x${hex(view.getUint32(pos, true))} where a section header must be`,
          );
        }
        type = PCAPNG_SECTION_HEADER;
        const magic = view.getUint32(pos + 8, true);
        if (magic === BYTE_ORDER_MAGIC) le = true;
        else if (magic === BYTE_ORDER_MAGIC_SWAPPED) le = false;
        else throw this.corrupt(base + pos, badByteOrder(magic));
      }
      const length = view.getUint32(pos + 4, le);
      if (length < BLOCK_OVERHEAD || length % 4 !== 0 || length > MAX_BLOCK_LENGTH) {
        throw this.corrupt(
          base + pos,
          `${this.blockName(type)} claims a length of ${length} bytes (must be a multiple of 4 from 12 to ${MAX_BLOCK_LENGTH})`,
        );
      }
      if (end - pos < length) {
        this.needed = length;
        return pos;
      }
      const trailer = view.getUint32(pos + length - 4, le);
      if (trailer !== length) {
        throw this.corrupt(
          base + pos,
          `${this.blockName(type)} says ${length} bytes at its start but ${trailer} at its end`,
        );
      }
      let published = false;
      let asked: unknown;
      switch (type) {
        case BlockType.ENHANCED_PACKET:
        case BlockType.PACKET: {
          // The obsolete packet block has the same layout with a 16-bit interface id and a drop counter.
          if (length < MIN_LENGTH.ENHANCED_PACKET)
            throw this.tooShort(base + pos, type, length, MIN_LENGTH.ENHANCED_PACKET);
          const id = type === BlockType.ENHANCED_PACKET ? view.getUint32(pos + 8, le) : view.getUint16(pos + 8, le);
          const iface = this.interfaceFor(id, base + pos, type);
          const capLen = view.getUint32(pos + 20, le);
          if (capLen > length - MIN_LENGTH.ENHANCED_PACKET) {
            throw this.corrupt(
              base + pos,
              `${this.blockName(type)} claims ${capLen} captured bytes, more than the ${length - MIN_LENGTH.ENHANCED_PACKET} its length leaves room for`,
            );
          }
          this.setTimestamp(iface, view.getUint32(pos + 12, le), view.getUint32(pos + 16, le));
          const dataAt = pos + 28;
          const optionsAt = dataAt + ((capLen + 3) & ~3);
          const direction =
            optionsAt < pos + length - 4
              ? this.flagsDirection(view, optionsAt, pos + length - 4, le)
              : Direction.UNKNOWN;
          asked = builder.publish(
            to,
            buf,
            dataAt,
            capLen,
            view.getUint32(pos + 24, le),
            iface.linkType,
            direction,
            iface.ifindex,
            this.seconds,
            this.nanos,
          );
          published = true;
          break;
        }
        case BlockType.SIMPLE_PACKET: {
          if (length < MIN_LENGTH.SIMPLE_PACKET)
            throw this.tooShort(base + pos, type, length, MIN_LENGTH.SIMPLE_PACKET);
          const iface = this.interfaceFor(0, base + pos, type);
          const origLen = view.getUint32(pos + 8, le);
          let capLen = Math.min(origLen, length - MIN_LENGTH.SIMPLE_PACKET);
          if (iface.snaplen > 0 && capLen > iface.snaplen) capLen = iface.snaplen;
          asked = builder.publish(
            to,
            buf,
            pos + 12,
            capLen,
            origLen,
            iface.linkType,
            Direction.UNKNOWN,
            iface.ifindex,
            this.seconds,
            this.nanos,
          );
          published = true;
          break;
        }
        case BlockType.INTERFACE_DESCRIPTION:
          if (length < MIN_LENGTH.INTERFACE_DESCRIPTION)
            throw this.tooShort(base + pos, type, length, MIN_LENGTH.INTERFACE_DESCRIPTION);
          this.interfaces.push(this.readInterface(buf, view, pos, length, le, base));
          break;
        case PCAPNG_SECTION_HEADER: {
          if (length < MIN_LENGTH.SECTION_HEADER)
            throw this.tooShort(base + pos, type, length, MIN_LENGTH.SECTION_HEADER);
          const major = view.getUint16(pos + 12, le);
          const minor = view.getUint16(pos + 14, le);
          if (major !== 1) {
            throw new SourceError(
              'UNSUPPORTED_FORMAT',
              `${this.target.path}: pcapng version ${major}.${minor} at byte ${base + pos} is not supported (only 1.x)`,
              {
                offset: base + pos,
                record: this.blocks + 1,
              },
            );
          }
          this.littleEndian = le;
          this.interfaces = [];
          this.sections++;
          break;
        }
        default:
          // Name resolution, interface statistics, decryption secrets, custom blocks, ...: nothing for us.
          break;
      }
      if (type === BlockType.ENHANCED_PACKET || type === BlockType.SIMPLE_PACKET || type === BlockType.PACKET)
        this.packets++;
      this.blocks++;
      pos += length;
      if (published) {
        if (asked === true && canWait) {
          state.waiting = true;
          return pos;
        }
        if (state.aborted) return pos;
      }
    }
    this.needed = BLOCK_OVERHEAD;
    return pos;
  }

  finish(offset: number, remaining: number): void {
    if (remaining === 0) return;
    const block = this.blocks + 1;
    const what =
      this.needed > BLOCK_OVERHEAD
        ? `the block is ${this.needed} bytes long but the file ends after ${remaining} of them`
        : `the file ends after ${remaining} bytes, inside the block's header`;
    throw new SourceError('TRUNCATED', `${this.target.path}: truncated: block ${block} at byte ${offset}: ${what}`, {
      offset,
      record: block,
    });
  }

  private interfaceFor(id: number, offset: number, type: number): Interface {
    const iface = this.interfaces[id];
    if (iface === undefined) {
      const count = this.interfaces.length;
      throw this.corrupt(
        offset,
        `${this.blockName(type)} refers to interface ${id}, but its section describes ${count === 0 ? 'none' : `only ${count}`} before it`,
      );
    }
    return iface;
  }

  /** Sets this.seconds/this.nanos from a 64-bit count of the interface's units since the epoch. */
  private setTimestamp(iface: Interface, high: number, low: number): void {
    const units = iface.unitsPerSecond;
    let seconds: number;
    let rest: number;
    if (high < EXACT_HIGH_WORD) {
      const value = high * TWO_32 + low;
      seconds = Math.floor(value / units);
      rest = value - seconds * units;
      if (rest < 0) {
        seconds--;
        rest += units;
      } else if (rest >= units) {
        seconds++;
        rest -= units;
      }
    } else if (units <= MAX_DIGIT_DIVISOR) {
      // Nanosecond counts need all 64 bits: divide digit by digit (16 bits each) to stay exact in doubles.
      let current = high >>> 16;
      const q3 = Math.floor(current / units);
      current = (current - q3 * units) * 65536 + (high & 0xffff);
      const q2 = Math.floor(current / units);
      current = (current - q2 * units) * 65536 + (low >>> 16);
      const q1 = Math.floor(current / units);
      current = (current - q1 * units) * 65536 + (low & 0xffff);
      const q0 = Math.floor(current / units);
      rest = current - q0 * units;
      seconds = ((q3 * 65536 + q2) * 65536 + q1) * 65536 + q0;
    } else {
      const value = (BigInt(high) << 32n) | BigInt(low);
      this.seconds = Number(value / iface.unitsPerSecondBig) + iface.offsetSeconds;
      this.nanos = Number(((value % iface.unitsPerSecondBig) * 1_000_000_000n) / iface.unitsPerSecondBig);
      return;
    }
    this.seconds = seconds + iface.offsetSeconds;
    this.nanos = iface.nanosPerUnit > 0 ? rest * iface.nanosPerUnit : nanosOf(rest, iface);
  }

  /** The direction bits of an epb_flags / pack_flags option, if the options hold one. */
  private flagsDirection(view: DataView, at: number, end: number, le: boolean): number {
    while (at + 4 <= end) {
      const code = view.getUint16(at, le);
      const length = view.getUint16(at + 2, le);
      if (code === Option.END) break;
      if (code === Option.FLAGS && length === 4 && at + 8 <= end) {
        const bits = view.getUint32(at + 4, le) & 3;
        return bits === 1 ? Direction.INBOUND : bits === 2 ? Direction.OUTBOUND : Direction.UNKNOWN;
      }
      at += 4 + ((length + 3) & ~3);
    }
    return Direction.UNKNOWN;
  }

  private readInterface(
    buf: Uint8Array,
    view: DataView,
    pos: number,
    length: number,
    le: boolean,
    base: number,
  ): Interface {
    let name: string | undefined;
    let resolution = 6;
    let offsetSeconds = 0;
    let at = pos + 16;
    const end = pos + length - 4;
    while (at + 4 <= end) {
      const code = view.getUint16(at, le);
      const size = view.getUint16(at + 2, le);
      if (code === Option.END || at + 4 + size > end) break;
      if (code === Option.IF_NAME) {
        name = utf8.decode(buf.subarray(at + 4, at + 4 + size)).replace(/\0+$/, '');
      } else if (code === Option.IF_TSRESOL && size >= 1) {
        resolution = buf[at + 4]!;
      } else if (code === Option.IF_TSOFFSET && size >= 8) {
        const lowWord = view.getUint32(at + (le ? 4 : 8), le);
        const highWord = view.getInt32(at + (le ? 8 : 4), le);
        offsetSeconds = highWord * TWO_32 + lowWord;
      }
      at += 4 + ((size + 3) & ~3);
    }
    const powerOfTwo = (resolution & 0x80) !== 0;
    const exponent = resolution & 0x7f;
    if (powerOfTwo ? exponent > 63 : exponent > 19) {
      throw this.corrupt(
        base + pos,
        `interface description has if_tsresol 0x${hex(resolution)}, finer than a 64-bit timestamp can count`,
      );
    }
    const unitsPerSecondBig = powerOfTwo ? 1n << BigInt(exponent) : 10n ** BigInt(exponent);
    const linkType = view.getUint16(pos + 8, le);
    let ifindex = 0;
    if (name !== undefined && name !== '' && linkType !== LinkType.LINUX_SLL2) {
      ifindex = this.interfaces.length + 1;
      this.target.links?.register(ifindex, name);
    }
    return {
      linkType,
      snaplen: view.getUint32(pos + 12, le),
      ifindex,
      unitsPerSecond: Number(unitsPerSecondBig),
      unitsPerSecondBig,
      nanosPerUnit: !powerOfTwo && exponent <= 9 ? 10 ** (9 - exponent) : 0,
      offsetSeconds,
    };
  }

  private blockName(type: number): string {
    const name = blockNames[type] ?? `block of type 0x${hex(type)}`;
    const isPacket =
      type === BlockType.ENHANCED_PACKET || type === BlockType.SIMPLE_PACKET || type === BlockType.PACKET;
    return isPacket ? `${name} block (packet ${this.packets + 1})` : `${name} block`;
  }

  private tooShort(offset: number, type: number, length: number, minimum: number): SourceError {
    return this.corrupt(
      offset,
      `${this.blockName(type)} is ${length} bytes long, shorter than the ${minimum} it needs`,
    );
  }

  private corrupt(offset: number, what: string): SourceError {
    const record = this.blocks + 1;
    return new SourceError('CORRUPT', `${this.target.path}: corrupt: block ${record} at byte ${offset}: ${what}`, {
      offset,
      record,
    });
  }
}

/** Nanoseconds in `rest` units of 1/unitsPerSecond second, rounded down. */
function nanosOf(rest: number, iface: Interface): number {
  const scaled = rest * 1e9;
  if (scaled <= Number.MAX_SAFE_INTEGER) return Math.floor(scaled / iface.unitsPerSecond);
  return Number((BigInt(rest) * 1_000_000_000n) / iface.unitsPerSecondBig);
}

function hex(value: number): string {
  return value.toString(16).padStart(8, '0');
}

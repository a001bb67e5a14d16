// Text of link-layer addresses read straight from packet bytes, as Go writes them (lowercase, colon-separated), and a
// cache that hands out one shared string per recently seen IP or MAC address (IP text itself: ./ipAddress.ts).
import { formatIPv4, formatIPv6 } from './ipAddress.js';

const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lowercase colon-separated hex of the 6 bytes at `offset` ("aa:bb:cc:dd:ee:ff"). */
export function formatMAC(data: Uint8Array, offset: number): string {
  return (
    HEX_BYTE[data[offset]!]! +
    ':' +
    HEX_BYTE[data[offset + 1]!]! +
    ':' +
    HEX_BYTE[data[offset + 2]!]! +
    ':' +
    HEX_BYTE[data[offset + 3]!]! +
    ':' +
    HEX_BYTE[data[offset + 4]!]! +
    ':' +
    HEX_BYTE[data[offset + 5]!]!
  );
}

/** A hardware address of any length, as Go's net.HardwareAddr.String() writes it ("" when empty). */
export function formatHardwareAddress(data: Uint8Array, offset: number, length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) {
    if (i > 0) text += ':';
    text += HEX_BYTE[data[offset + i]!]!;
  }
  return text;
}

/** Whether the `length` bytes at `offset` are all zero (an unspecified address). */
export function isZeroBytes(data: Uint8Array, offset: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (data[offset + i] !== 0) return false;
  return true;
}

/**
 * Remembers the text of recently seen addresses, so the same address read from thousands of packets is one shared,
 * already-hashed string instead of a new one per packet (cheaper to build, and cheaper as a Map key for lookups).
 * Direct-mapped with a fixed number of slots per kind: a colliding address simply replaces the previous one.
 */
export class AddressTextCache {
  private readonly v4Keys: Float64Array;
  private readonly v4Texts: string[];
  private readonly v6Keys: Uint32Array;
  private readonly v6Used: Uint8Array;
  private readonly v6Texts: string[];
  private readonly macKeys: Float64Array;
  private readonly macTexts: string[];
  private readonly bits: number;

  /** `slotsLog2` slots per address kind as a power of two (default 2^12 = 4096). */
  constructor(slotsLog2 = 12) {
    this.bits = slotsLog2;
    const slots = 1 << slotsLog2;
    this.v4Keys = new Float64Array(slots).fill(-1);
    this.v4Texts = new Array<string>(slots).fill('');
    this.v6Keys = new Uint32Array(slots * 4);
    this.v6Used = new Uint8Array(slots);
    this.v6Texts = new Array<string>(slots).fill('');
    this.macKeys = new Float64Array(slots).fill(-1);
    this.macTexts = new Array<string>(slots).fill('');
  }

  ipv4(data: Uint8Array, offset: number): string {
    const key = uint32At(data, offset);
    const slot = Math.imul(key, 0x9e3779b1) >>> (32 - this.bits);
    if (this.v4Keys[slot] === key) return this.v4Texts[slot]!;
    const text = formatIPv4(data, offset);
    this.v4Keys[slot] = key;
    this.v4Texts[slot] = text;
    return text;
  }

  ipv6(data: Uint8Array, offset: number): string {
    const a = uint32At(data, offset);
    const b = uint32At(data, offset + 4);
    const c = uint32At(data, offset + 8);
    const d = uint32At(data, offset + 12);
    const slot =
      Math.imul(a ^ Math.imul(b, 0x85ebca6b) ^ Math.imul(c, 0xc2b2ae35) ^ Math.imul(d, 0x27d4eb2f), 0x9e3779b1) >>>
      (32 - this.bits);
    const k = this.v6Keys;
    const base = slot * 4;
    if (this.v6Used[slot] === 1 && k[base] === a && k[base + 1] === b && k[base + 2] === c && k[base + 3] === d) {
      return this.v6Texts[slot]!;
    }
    const text = formatIPv6(data, offset);
    k[base] = a;
    k[base + 1] = b;
    k[base + 2] = c;
    k[base + 3] = d;
    this.v6Used[slot] = 1;
    this.v6Texts[slot] = text;
    return text;
  }

  /** IPv4 (version 4) or IPv6 text. */
  ip(data: Uint8Array, offset: number, version: number): string {
    return version === 4 ? this.ipv4(data, offset) : this.ipv6(data, offset);
  }

  mac(data: Uint8Array, offset: number): string {
    const high = uint16At(data, offset);
    const low = uint32At(data, offset + 2);
    const key = high * 0x100000000 + low;
    const slot = Math.imul(low ^ Math.imul(high, 0x85ebca6b), 0x9e3779b1) >>> (32 - this.bits);
    if (this.macKeys[slot] === key) return this.macTexts[slot]!;
    const text = formatMAC(data, offset);
    this.macKeys[slot] = key;
    this.macTexts[slot] = text;
    return text;
  }
}

/** The big-endian unsigned 16-bit number at `offset`. */
export function uint16At(data: Uint8Array, offset: number): number {
  return (data[offset]! << 8) | data[offset + 1]!;
}

/** The big-endian unsigned 32-bit number at `offset`. */
export function uint32At(data: Uint8Array, offset: number): number {
  return ((data[offset]! << 24) | (data[offset + 1]! << 16) | (data[offset + 2]! << 8) | data[offset + 3]!) >>> 0;
}

/** A 16-bit number with its two bytes swapped (network order read as host order, or back). */
export function byteSwap16(value: number): number {
  return ((value & 0xff) << 8) | ((value >>> 8) & 0xff);
}

/** A 32-bit number with its four bytes reversed, unsigned. */
export function byteSwap32(value: number): number {
  return (((value & 0xff) << 24) | ((value & 0xff00) << 8) | ((value >>> 8) & 0xff00) | (value >>> 24)) >>> 0;
}

/** The little-endian unsigned 16-bit number at `offset` (datapath messages and pcap headers are in host order). */
export function uint16LeAt(data: Uint8Array, offset: number): number {
  return data[offset]! | (data[offset + 1]! << 8);
}

/** The little-endian unsigned 32-bit number at `offset`. */
export function uint32LeAt(data: Uint8Array, offset: number): number {
  return (data[offset]! | (data[offset + 1]! << 8) | (data[offset + 2]! << 16) | (data[offset + 3]! << 24)) >>> 0;
}

// Random (version 4) UUIDs for flows, one per packet: drawn from the same CSPRNG as crypto.randomUUID, but from a
// larger pool refilled less often. The ring keeps a flow's 16 bytes and writes their text only when the flow is read;
// text is one flat string (String.fromCharCode), not a rope of concatenations.

import { randomFillSync } from 'node:crypto';

export const UUID_BYTES = 16;
const POOL_UUIDS = 4096;
const DASH = 0x2d;
/** A UUID's text form: 32 hex digits and 4 dashes. */
export const UUID_TEXT_LENGTH = 36;

/** Character codes of each byte's two hex digits. */
const HIGH = new Uint8Array(256);
const LOW = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  HIGH[i] = '0123456789abcdef'.charCodeAt(i >> 4);
  LOW[i] = '0123456789abcdef'.charCodeAt(i & 15);
}

/** A UUID is four 32-bit words; drawn and copied as words (four stores, not sixteen). */
export const UUID_WORDS = UUID_BYTES / 4;

const pool = new Uint32Array(UUID_WORDS * POOL_UUIDS);
let position = pool.length;

// The version and variant bits as masks of the words holding bytes 6 and 8, in this machine's byte order (typed
// arrays use it): version 4 in the high nibble of byte 6, variant 10xx in the high bits of byte 8 (RFC 9562).
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const VERSION_KEEP = LITTLE_ENDIAN ? ~0x00f00000 : ~0x0000f000;
const VERSION_4 = LITTLE_ENDIAN ? 0x00400000 : 0x00004000;
const VARIANT_KEEP = LITTLE_ENDIAN ? ~0xc0 : ~0xc0000000;
const VARIANT_RFC = LITTLE_ENDIAN ? 0x80 : 0x80000000;

/** Draws a new version 4 UUID into `out` at word `at`: 16 random bytes, version and variant bits set. */
export function randomUuid(out: Uint32Array, at: number): void {
  if (position === pool.length) {
    randomFillSync(pool);
    position = 0;
  }
  const p = position;
  position += UUID_WORDS;
  out[at] = pool[p]!;
  out[at + 1] = (pool[p + 1]! & VERSION_KEEP) | VERSION_4;
  out[at + 2] = (pool[p + 2]! & VARIANT_KEEP) | VARIANT_RFC;
  out[at + 3] = pool[p + 3]!;
}

/** Writes the 36-character text of the UUID in `src` at `at` into `b` at `p`; returns the position after it. */
export function writeUuidText(b: Uint8Array, p: number, src: Uint8Array, at: number): number {
  for (let i = 0; i < UUID_BYTES; i++) {
    const byte = src[at + i]!;
    b[p++] = HIGH[byte]!;
    b[p++] = LOW[byte]!;
    if (i === 3 || i === 5 || i === 7 || i === 9) b[p++] = DASH;
  }
  return p;
}

const text = new Uint8Array(UUID_TEXT_LENGTH);

/** The 36-character lowercase text of the UUID in `src` at `at`. */
export function uuidText(src: Uint8Array, at: number): string {
  writeUuidText(text, 0, src, at);
  const b = text;
  return String.fromCharCode(
    b[0]!,
    b[1]!,
    b[2]!,
    b[3]!,
    b[4]!,
    b[5]!,
    b[6]!,
    b[7]!,
    b[8]!,
    b[9]!,
    b[10]!,
    b[11]!,
    b[12]!,
    b[13]!,
    b[14]!,
    b[15]!,
    b[16]!,
    b[17]!,
    b[18]!,
    b[19]!,
    b[20]!,
    b[21]!,
    b[22]!,
    b[23]!,
    b[24]!,
    b[25]!,
    b[26]!,
    b[27]!,
    b[28]!,
    b[29]!,
    b[30]!,
    b[31]!,
    b[32]!,
    b[33]!,
    b[34]!,
    b[35]!,
  );
}

const drawn = new Uint8Array(UUID_BYTES);
const drawnWords = new Uint32Array(drawn.buffer);

/** A new RFC 9562 version 4 UUID in its 36-character lowercase form. */
export function flowUuid(): string {
  randomUuid(drawnWords, 0);
  return uuidText(drawn, 0);
}

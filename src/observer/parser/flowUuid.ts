// Random (version 4) UUIDs for flows, one per packet: drawn from the same CSPRNG as crypto.randomUUID, but from a
// larger pool refilled less often, and written as one flat string (String.fromCharCode) rather than a rope of
// concatenations, which keeps the per-packet cost and the garbage it leaves to a minimum.

import { randomFillSync } from 'node:crypto';

const UUID_BYTES = 16;
const POOL_UUIDS = 4096;
const DASH = 0x2d;

/** Character codes of each byte's two hex digits. */
const HIGH = new Uint8Array(256);
const LOW = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  HIGH[i] = '0123456789abcdef'.charCodeAt(i >> 4);
  LOW[i] = '0123456789abcdef'.charCodeAt(i & 15);
}

const pool = new Uint8Array(UUID_BYTES * POOL_UUIDS);
let position = pool.length;

/** A new RFC 9562 version 4 UUID in its 36-character lowercase form. */
export function flowUuid(): string {
  if (position === pool.length) {
    randomFillSync(pool);
    position = 0;
  }
  const b = pool;
  const p = position;
  position += UUID_BYTES;
  // Version 4 in the high nibble of byte 6, variant 10xx in the high bits of byte 8.
  const b6 = (b[p + 6]! & 0x0f) | 0x40;
  const b8 = (b[p + 8]! & 0x3f) | 0x80;
  return String.fromCharCode(
    HIGH[b[p]!]!,
    LOW[b[p]!]!,
    HIGH[b[p + 1]!]!,
    LOW[b[p + 1]!]!,
    HIGH[b[p + 2]!]!,
    LOW[b[p + 2]!]!,
    HIGH[b[p + 3]!]!,
    LOW[b[p + 3]!]!,
    DASH,
    HIGH[b[p + 4]!]!,
    LOW[b[p + 4]!]!,
    HIGH[b[p + 5]!]!,
    LOW[b[p + 5]!]!,
    DASH,
    HIGH[b6]!,
    LOW[b6]!,
    HIGH[b[p + 7]!]!,
    LOW[b[p + 7]!]!,
    DASH,
    HIGH[b8]!,
    LOW[b8]!,
    HIGH[b[p + 9]!]!,
    LOW[b[p + 9]!]!,
    DASH,
    HIGH[b[p + 10]!]!,
    LOW[b[p + 10]!]!,
    HIGH[b[p + 11]!]!,
    LOW[b[p + 11]!]!,
    HIGH[b[p + 12]!]!,
    LOW[b[p + 12]!]!,
    HIGH[b[p + 13]!]!,
    LOW[b[p + 13]!]!,
    HIGH[b[p + 14]!]!,
    LOW[b[p + 14]!]!,
    HIGH[b[p + 15]!]!,
    LOW[b[p + 15]!]!,
  );
}

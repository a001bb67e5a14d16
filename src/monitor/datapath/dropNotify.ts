// Codec for the datapath's drop notification (struct drop_notify): why a packet was dropped, where, and its first bytes.
//
// Layout (little-endian as the datapath writes it):
//   0 type u8 | 1 subtype u8 = drop reason | 2 source u16 | 4 hash u32 | 8 origLen u32 | 12 capLen u16
//  14 version u8 | 15 extVersion u8 | 16 srcLabel u32 | 20 dstLabel u32 | 24 dstID u32
//  28 line u16 | 30 file u8 | 31 extError i8 | 32 ifindex u32                 (v0/v1: 36 bytes)
//  36 flags u8 | 37 pad[3]                                                    (v2: 40 bytes)
//  40 ipTraceId u64                                                           (v3: 48 bytes)
// then the captured frame.

import { DatapathDecodeError, requireLength, requireMessageType, viewOf } from './decodeError.js';
import { MessageType } from './messageType.js';

export const DROP_NOTIFY_V1_LEN = 36;
export const DROP_NOTIFY_V2_LEN = 40;
export const DROP_NOTIFY_V3_LEN = 48;
/** Version 0 predates the version byte and shares v1's layout. */
const headerLengthByVersion: readonly number[] = [
  DROP_NOTIFY_V1_LEN,
  DROP_NOTIFY_V1_LEN,
  DROP_NOTIFY_V2_LEN,
  DROP_NOTIFY_V3_LEN,
];
const DROP_NOTIFY_MAX_VERSION = 3;

/** Bits of DropNotify.flags (v2+). */
export const DropNotifyFlag = {
  IS_IPV6: 1,
  IS_L3_DEVICE: 2,
  IS_VXLAN: 4,
  IS_GENEVE: 8,
} as const;

export interface DropNotify {
  type: number;
  /** The drop reason (see dropReason.ts). */
  subType: number;
  source: number;
  hash: number;
  origLen: number;
  capLen: number;
  version: number;
  extVersion: number;
  srcLabel: number;
  dstLabel: number;
  dstID: number;
  /** Source line in the BPF program that dropped the packet. */
  line: number;
  /** BPF source file id (see bpfFileName). */
  file: number;
  /** Signed extended error code, 0 when none. */
  extError: number;
  ifindex: number;
  /** v2+, else 0. */
  flags: number;
  /** v3+, else 0n. */
  ipTraceId: bigint;
  payloadOffset: number;
}

export type DropNotifyInit = Partial<Omit<DropNotify, 'type' | 'capLen' | 'payloadOffset'>> & { subType: number };

/** Encodes a drop notification followed by `frame` (capLen = frame length); version defaults to 3. */
export function encodeDropNotify(init: DropNotifyInit, frame: Uint8Array = new Uint8Array()): Uint8Array {
  const version = init.version ?? DROP_NOTIFY_MAX_VERSION;
  const length = headerLengthByVersion[version];
  if (length === undefined) throw new RangeError(`drop notify version ${version} is not one of 0..3`);
  const out = new Uint8Array(length + frame.length);
  const view = viewOf(out);
  out[0] = MessageType.DROP;
  out[1] = init.subType;
  view.setUint16(2, init.source ?? 0, true);
  view.setUint32(4, init.hash ?? 0, true);
  view.setUint32(8, init.origLen ?? frame.length, true);
  view.setUint16(12, Math.min(frame.length, 0xffff), true);
  out[14] = version;
  out[15] = init.extVersion ?? 0;
  view.setUint32(16, init.srcLabel ?? 0, true);
  view.setUint32(20, init.dstLabel ?? 0, true);
  view.setUint32(24, init.dstID ?? 0, true);
  view.setUint16(28, init.line ?? 0, true);
  out[30] = init.file ?? 0;
  view.setInt8(31, init.extError ?? 0);
  view.setUint32(32, init.ifindex ?? 0, true);
  if (version >= 2) out[36] = init.flags ?? 0;
  if (version >= 3) view.setBigUint64(40, init.ipTraceId ?? 0n, true);
  out.set(frame, length);
  return out;
}

/** Decodes a drop notification; throws DatapathDecodeError when too short, not a drop, or of an unknown version. */
export function decodeDropNotify(data: Uint8Array): DropNotify {
  requireLength(data, DROP_NOTIFY_V1_LEN, 'drop notify');
  requireMessageType(data, MessageType.DROP, 'drop notify');
  const version = data[14]!;
  if (version > DROP_NOTIFY_MAX_VERSION) {
    throw new DatapathDecodeError('UNKNOWN_VERSION', `drop notify: unknown version ${version} (known: 0..3)`);
  }
  const headerLength = headerLengthByVersion[version]!;
  requireLength(data, headerLength, `drop notify v${version}`);
  const view = viewOf(data);
  return {
    type: data[0]!,
    subType: data[1]!,
    source: view.getUint16(2, true),
    hash: view.getUint32(4, true),
    origLen: view.getUint32(8, true),
    capLen: view.getUint16(12, true),
    version,
    extVersion: data[15]!,
    srcLabel: view.getUint32(16, true),
    dstLabel: view.getUint32(20, true),
    dstID: view.getUint32(24, true),
    line: view.getUint16(28, true),
    file: data[30]!,
    extError: view.getInt8(31),
    ifindex: view.getUint32(32, true),
    flags: version >= 2 ? data[36]! : 0,
    ipTraceId: version >= 3 ? view.getBigUint64(40, true) : 0n,
    // Upstream defines no extension lengths (they are for downstream forks), so an extension adds nothing.
    payloadOffset: headerLength,
  };
}

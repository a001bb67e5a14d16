// Codec for the datapath's socket trace notification (struct trace_sock_notify): a socket-level service translation.
//
// Layout (little-endian as the datapath writes it; the address in network order):
//   0 type u8 | 1 xlatePoint u8 | 2 l4Proto u8 | 3 flags u8 | 4 dstPort u16 | 6 pad u16
//   8 sockCookie u64 | 16 cgroupId u64 | 24 dstIP [16]                        (40 bytes)

import { requireLength, requireMessageType, viewOf } from './decodeError.js';
import { MessageType } from './messageType.js';

export const TRACE_SOCK_NOTIFY_LEN = 40;

/** Where relative to service translation the event was taken; numbers as flow.SocketTranslationPoint. */
export const SockXlatePoint = {
  UNKNOWN: 0,
  PRE_DIRECTION_FWD: 1,
  POST_DIRECTION_FWD: 2,
  PRE_DIRECTION_REV: 3,
  POST_DIRECTION_REV: 4,
} as const;

/** The datapath's own L4 numbering for socket traces (not IP protocol numbers). */
export const SockL4Proto = { UNKNOWN: 0, TCP: 1, UDP: 2 } as const;

export const TRACE_SOCK_FLAG_IPV6 = 0x1;

export interface TraceSockNotify {
  type: number;
  xlatePoint: number;
  l4Proto: number;
  flags: number;
  dstPort: number;
  sockCookie: bigint;
  cgroupId: bigint;
  /** 16 bytes viewing the input; an IPv4 address sits in the first 4. */
  dstIP: Uint8Array;
}

export type TraceSockNotifyInit = Partial<Omit<TraceSockNotify, 'type'>>;

/** The destination address: 16 bytes for IPv6, the first 4 otherwise. */
export function traceSockDstIP(n: TraceSockNotify): Uint8Array {
  return (n.flags & TRACE_SOCK_FLAG_IPV6) !== 0 ? n.dstIP : n.dstIP.subarray(0, 4);
}

export function encodeTraceSockNotify(init: TraceSockNotifyInit): Uint8Array {
  const out = new Uint8Array(TRACE_SOCK_NOTIFY_LEN);
  const view = viewOf(out);
  out[0] = MessageType.TRACE_SOCK;
  out[1] = init.xlatePoint ?? 0;
  out[2] = init.l4Proto ?? 0;
  out[3] = init.flags ?? 0;
  view.setUint16(4, init.dstPort ?? 0, true);
  view.setBigUint64(8, init.sockCookie ?? 0n, true);
  view.setBigUint64(16, init.cgroupId ?? 0n, true);
  if (init.dstIP !== undefined) {
    if (init.dstIP.length !== 4 && init.dstIP.length !== 16) {
      throw new RangeError(`trace sock dstIP must be 4 or 16 bytes, got ${init.dstIP.length}`);
    }
    out.set(init.dstIP, 24);
  }
  return out;
}

/** Decodes a socket trace notification; throws DatapathDecodeError when too short or not a socket trace. */
export function decodeTraceSockNotify(data: Uint8Array): TraceSockNotify {
  requireLength(data, TRACE_SOCK_NOTIFY_LEN, 'trace sock notify');
  requireMessageType(data, MessageType.TRACE_SOCK, 'trace sock notify');
  const view = viewOf(data);
  return {
    type: data[0]!,
    xlatePoint: data[1]!,
    l4Proto: data[2]!,
    flags: data[3]!,
    dstPort: view.getUint16(4, true),
    sockCookie: view.getBigUint64(8, true),
    cgroupId: view.getBigUint64(16, true),
    dstIP: data.subarray(24, 40),
  };
}

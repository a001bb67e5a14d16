// Codec for the datapath's debug capture (struct debug_capture_msg): a packet seen at a debug capture point.
//
// Layout (little-endian as the datapath writes it):
//   0 type u8 | 1 subtype u8 = capture point | 2 source u16 | 4 hash u32 | 8 len u32 (captured)
//  12 origLen u32 | 16 arg1 u32 | 20 arg2 u32                                  (24 bytes)
// then the captured frame.

import { requireLength, requireMessageType, viewOf } from './decodeError.js';
import { MessageType } from './messageType.js';

export const DEBUG_CAPTURE_LEN = 24;

/** Capture points; numbers as bpf/lib/dbg.h and flow.DebugCapturePoint use them (1..3 are reserved). */
export const DebugCapturePoint = {
  UNKNOWN: 0,
  DELIVERY: 4,
  FROM_LB: 5,
  AFTER_V46: 6,
  AFTER_V64: 7,
  PROXY_PRE: 8,
  PROXY_POST: 9,
  SNAT_PRE: 10,
  SNAT_POST: 11,
} as const;

const capturePointNames: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(DebugCapturePoint).map(([name, value]) => [
    value,
    value === 0 ? 'DBG_CAPTURE_POINT_UNKNOWN' : `DBG_CAPTURE_${name}`,
  ]),
);

/** flow.DebugCapturePoint name ("DBG_CAPTURE_DELIVERY"), or the number as text. */
export function debugCapturePointName(point: number): string {
  return capturePointNames[point] ?? String(point);
}

export interface DebugCapture {
  type: number;
  subType: number;
  source: number;
  hash: number;
  /** Captured bytes. */
  len: number;
  origLen: number;
  arg1: number;
  arg2: number;
  payloadOffset: number;
}

export type DebugCaptureInit = Partial<Omit<DebugCapture, 'type' | 'len' | 'payloadOffset'>>;

export function encodeDebugCapture(init: DebugCaptureInit, frame: Uint8Array = new Uint8Array()): Uint8Array {
  const out = new Uint8Array(DEBUG_CAPTURE_LEN + frame.length);
  const view = viewOf(out);
  out[0] = MessageType.CAPTURE;
  out[1] = init.subType ?? 0;
  view.setUint16(2, init.source ?? 0, true);
  view.setUint32(4, init.hash ?? 0, true);
  view.setUint32(8, frame.length, true);
  view.setUint32(12, init.origLen ?? frame.length, true);
  view.setUint32(16, init.arg1 ?? 0, true);
  view.setUint32(20, init.arg2 ?? 0, true);
  out.set(frame, DEBUG_CAPTURE_LEN);
  return out;
}

/** Decodes a debug capture; throws DatapathDecodeError when too short or not a capture message. */
export function decodeDebugCapture(data: Uint8Array): DebugCapture {
  requireLength(data, DEBUG_CAPTURE_LEN, 'debug capture');
  requireMessageType(data, MessageType.CAPTURE, 'debug capture');
  const view = viewOf(data);
  return {
    type: data[0]!,
    subType: data[1]!,
    source: view.getUint16(2, true),
    hash: view.getUint32(4, true),
    len: view.getUint32(8, true),
    origLen: view.getUint32(12, true),
    arg1: view.getUint32(16, true),
    arg2: view.getUint32(20, true),
    payloadOffset: DEBUG_CAPTURE_LEN,
  };
}

// Codec for the datapath recorder's capture message (struct capture_msg): a packet already matched to a recording rule.
//
// Layout (little-endian as the datapath writes it):
//   0 type u8 | 1 subtype u8 = direction (0 egress, 1 ingress) | 2 ruleID u16 | 4 reserved u32
//   8 timeBoot u64 (ns since boot) | 16 capLen u32 | 20 len u32 (original)      (24 bytes)
// then the captured frame.

import { requireLength, requireMessageType, viewOf } from './decodeError.js';
import { MessageType } from './messageType.js';

export const RECORDER_CAPTURE_LEN = 24;

export const RecorderDirection = { EGRESS: 0, INGRESS: 1 } as const;

export interface RecorderCapture {
  type: number;
  subType: number;
  ruleID: number;
  timeBoot: bigint;
  capLen: number;
  len: number;
  payloadOffset: number;
}

export type RecorderCaptureInit = Partial<Omit<RecorderCapture, 'type' | 'capLen' | 'payloadOffset'>>;

export function encodeRecorderCapture(init: RecorderCaptureInit, frame: Uint8Array = new Uint8Array()): Uint8Array {
  const out = new Uint8Array(RECORDER_CAPTURE_LEN + frame.length);
  const view = viewOf(out);
  out[0] = MessageType.RECORDER_CAPTURE;
  out[1] = init.subType ?? 0;
  view.setUint16(2, init.ruleID ?? 0, true);
  view.setBigUint64(8, init.timeBoot ?? 0n, true);
  view.setUint32(16, frame.length, true);
  view.setUint32(20, init.len ?? frame.length, true);
  out.set(frame, RECORDER_CAPTURE_LEN);
  return out;
}

/** Decodes a recorder capture; throws DatapathDecodeError when too short or not a recorder capture. */
export function decodeRecorderCapture(data: Uint8Array): RecorderCapture {
  requireLength(data, RECORDER_CAPTURE_LEN, 'recorder capture');
  requireMessageType(data, MessageType.RECORDER_CAPTURE, 'recorder capture');
  const view = viewOf(data);
  return {
    type: data[0]!,
    subType: data[1]!,
    ruleID: view.getUint16(2, true),
    timeBoot: view.getBigUint64(8, true),
    capLen: view.getUint32(16, true),
    len: view.getUint32(20, true),
    payloadOffset: RECORDER_CAPTURE_LEN,
  };
}

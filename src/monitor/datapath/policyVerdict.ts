// Codec for the datapath's policy verdict notification (struct policy_verdict_notify): one policy decision and its packet.
//
// Layout (little-endian as the datapath writes it):
//   0 type u8 | 1 subtype u8 | 2 source u16 | 4 hash u32 | 8 origLen u32 | 12 capLen u16
//  14 version u8 | 15 extVersion u8 | 16 remoteLabel u32 | 20 verdict i32 | 24 dstPort u16
//  26 proto u8 | 27 flags u8 | 28 authType u8 | 29 pad[3] | 32 cookie u32 | 36 pad u32   (40 bytes)
// then the captured frame.

import { requireLength, requireMessageType, viewOf } from './decodeError.js';
import { MessageType } from './messageType.js';

export const POLICY_VERDICT_NOTIFY_LEN = 40;

/** Masks over PolicyVerdictNotify.flags. */
export const PolicyVerdictFlag = {
  /** Two bits: 1 ingress, 2 egress. */
  DIRECTION: 0x03,
  IS_IPV6: 0x04,
  /** Three bits holding the PolicyMatchType, shifted by MATCH_TYPE_SHIFT. */
  MATCH_TYPE: 0x38,
  IS_AUDITED: 0x40,
  IS_L3: 0x80,
} as const;
export const POLICY_VERDICT_MATCH_TYPE_SHIFT = 3;

export const PolicyDirection = { INGRESS: 1, EGRESS: 2 } as const;

/** How a packet matched policy; numbers as the datapath and flow.proto's policy_match_type use them. */
export const PolicyMatchType = { NONE: 0, L3_ONLY: 1, L3_L4: 2, L4_ONLY: 3, ALL: 4 } as const;

export interface PolicyVerdictNotify {
  type: number;
  subType: number;
  /** Local endpoint id. */
  source: number;
  hash: number;
  origLen: number;
  capLen: number;
  version: number;
  extVersion: number;
  /** Identity of the other side: the source for ingress, the destination for egress. */
  remoteLabel: number;
  /** 0 allowed, >0 redirected to a proxy port, <0 denied (a negative drop reason). */
  verdict: number;
  dstPort: number;
  proto: number;
  flags: number;
  authType: number;
  cookie: number;
  payloadOffset: number;
}

export type PolicyVerdictNotifyInit = Partial<Omit<PolicyVerdictNotify, 'type' | 'capLen' | 'payloadOffset'>>;

export function policyVerdictDirection(flags: number): number {
  return flags & PolicyVerdictFlag.DIRECTION;
}

export function policyVerdictMatchType(flags: number): number {
  return (flags & PolicyVerdictFlag.MATCH_TYPE) >> POLICY_VERDICT_MATCH_TYPE_SHIFT;
}

export function encodePolicyVerdictNotify(
  init: PolicyVerdictNotifyInit,
  frame: Uint8Array = new Uint8Array(),
): Uint8Array {
  const out = new Uint8Array(POLICY_VERDICT_NOTIFY_LEN + frame.length);
  const view = viewOf(out);
  out[0] = MessageType.POLICY_VERDICT;
  out[1] = init.subType ?? 0;
  view.setUint16(2, init.source ?? 0, true);
  view.setUint32(4, init.hash ?? 0, true);
  view.setUint32(8, init.origLen ?? frame.length, true);
  view.setUint16(12, Math.min(frame.length, 0xffff), true);
  out[14] = init.version ?? 1;
  out[15] = init.extVersion ?? 0;
  view.setUint32(16, init.remoteLabel ?? 0, true);
  view.setInt32(20, init.verdict ?? 0, true);
  view.setUint16(24, init.dstPort ?? 0, true);
  out[26] = init.proto ?? 0;
  out[27] = init.flags ?? 0;
  out[28] = init.authType ?? 0;
  view.setUint32(32, init.cookie ?? 0, true);
  out.set(frame, POLICY_VERDICT_NOTIFY_LEN);
  return out;
}

/** Decodes a policy verdict notification; throws DatapathDecodeError when too short or not a policy verdict. */
export function decodePolicyVerdictNotify(data: Uint8Array): PolicyVerdictNotify {
  requireLength(data, POLICY_VERDICT_NOTIFY_LEN, 'policy verdict notify');
  requireMessageType(data, MessageType.POLICY_VERDICT, 'policy verdict notify');
  const view = viewOf(data);
  return {
    type: data[0]!,
    subType: data[1]!,
    source: view.getUint16(2, true),
    hash: view.getUint32(4, true),
    origLen: view.getUint32(8, true),
    capLen: view.getUint16(12, true),
    version: data[14]!,
    extVersion: data[15]!,
    remoteLabel: view.getUint32(16, true),
    verdict: view.getInt32(20, true),
    dstPort: view.getUint16(24, true),
    proto: data[26]!,
    flags: data[27]!,
    authType: data[28]!,
    cookie: view.getUint32(32, true),
    payloadOffset: POLICY_VERDICT_NOTIFY_LEN,
  };
}

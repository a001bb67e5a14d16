// Codec for the datapath's trace notification (struct trace_notify), the message every captured frame travels in.
//
// Layout (little-endian as the datapath writes it; addresses in network order):
//   0 type u8 | 1 obsPoint u8 | 2 source u16 | 4 hash u32 | 8 origLen u32 | 12 capLen u16
//  14 version u8 | 15 extVersion u8 | 16 srcLabel u32 | 20 dstLabel u32 | 24 dstID u16
//  26 reason u8 | 27 flags u8 | 28 ifindex u32                               (v0: 32 bytes)
//  32 origIP [16]                                                             (v1: 48 bytes)
//  48 ipTraceId u64                                                           (v2: 56 bytes)
// then the captured frame. Older Cilium wrote version as a u16 at 14; with extVersion 0 the bytes match.

import { DatapathDecodeError, requireLength, requireMessageType, viewOf } from './decodeError.js';
import { MessageType } from './messageType.js';
import { uint16At } from '../../packet/format.js';

/** Where in the datapath the packet was seen; numbers as the datapath's enum trace_point. */
export const TraceObservationPoint = {
  TO_LXC: 0,
  TO_PROXY: 1,
  TO_HOST: 2,
  TO_STACK: 3,
  TO_OVERLAY: 4,
  FROM_LXC: 5,
  FROM_PROXY: 6,
  FROM_HOST: 7,
  FROM_STACK: 8,
  FROM_OVERLAY: 9,
  FROM_NETWORK: 10,
  TO_NETWORK: 11,
  FROM_CRYPTO: 12,
  TO_CRYPTO: 13,
} as const;
export type TraceObservationPoint = (typeof TraceObservationPoint)[keyof typeof TraceObservationPoint];

const observationPointNames: readonly string[] = [
  'to-endpoint',
  'to-proxy',
  'to-host',
  'to-stack',
  'to-overlay',
  'from-endpoint',
  'from-proxy',
  'from-host',
  'from-stack',
  'from-overlay',
  'from-network',
  'to-network',
  'from-crypto',
  'to-crypto',
];

/** The monitor's name for an observation point ("to-endpoint"), or the number as text. */
export function traceObservationPointName(obsPoint: number): string {
  return observationPointNames[obsPoint] ?? String(obsPoint);
}

/** Why a packet was forwarded (connection-tracking state); the top bit is TRACE_REASON_ENCRYPT_MASK. */
export const TraceReason = {
  POLICY: 0,
  CT_ESTABLISHED: 1,
  CT_REPLY: 2,
  CT_RELATED: 3,
  CT_REOPENED: 4,
  UNKNOWN: 5,
  SRV6_ENCAP: 6,
  SRV6_DECAP: 7,
  ENCRYPT_OVERLAY: 8,
} as const;
export const TRACE_REASON_ENCRYPT_MASK = 0x80;

const traceReasonNames: readonly string[] = [
  'new',
  'established',
  'reply',
  'related',
  'reopened',
  'unknown',
  'srv6-encap',
  'srv6-decap',
  'encrypt-overlay',
];

/** The reason with the encryption bit cleared. */
export function traceReasonOf(reason: number): number {
  return reason & ~TRACE_REASON_ENCRYPT_MASK & 0xff;
}

export function traceReasonIsEncrypted(reason: number): boolean {
  return (reason & TRACE_REASON_ENCRYPT_MASK) !== 0;
}

/** The monitor's connection-state text ("established"); unknown values print the raw byte, as upstream does. */
export function traceReasonName(reason: number): string {
  return traceReasonNames[traceReasonOf(reason)] ?? String(reason);
}

/** Bits of TraceNotify.flags. */
export const TraceNotifyFlag = {
  IS_IPV6: 1,
  IS_L3_DEVICE: 2,
  IS_VXLAN: 4,
  IS_GENEVE: 8,
} as const;

/**
 * The flags of the TraceNotify that carries an Ethernet frame, bytes[start, start + capLen): IS_IPV6 when its type
 * (past one VLAN or QinQ tag) is IPv6, as the datapath sets it; nothing else applies to a plain frame.
 */
export function ethernetFrameFlags(bytes: Uint8Array, start: number, capLen: number): number {
  if (capLen < 14) return 0;
  let type = uint16At(bytes, start + 12);
  if ((type === 0x8100 /* VLAN */ || type === 0x88a8) /* QinQ */ && capLen >= 18) {
    type = uint16At(bytes, start + 16);
  }
  return type === 0x86dd /* IPv6 */ ? TraceNotifyFlag.IS_IPV6 : 0;
}

export const TraceNotifyVersion = { V0: 0, V1: 1, V2: 2 } as const;

export const TRACE_NOTIFY_V0_LEN = 32;
export const TRACE_NOTIFY_V1_LEN = 48;
export const TRACE_NOTIFY_V2_LEN = 56;
const TRACE_NOTIFY_MAX_VERSION = TraceNotifyVersion.V2;
const headerLengthByVersion: readonly number[] = [TRACE_NOTIFY_V0_LEN, TRACE_NOTIFY_V1_LEN, TRACE_NOTIFY_V2_LEN];

/** capLen is a u16 on the wire; longer frames are still carried whole (readers take the rest of the buffer). */
const CAP_LEN_MAX = 0xffff;

export interface TraceNotifyInit {
  obsPoint: number;
  origLen: number;
  ifindex?: number;
  /** Endpoint id the event comes from. */
  source?: number;
  hash?: number;
  reason?: number;
  flags?: number;
  srcLabel?: number;
  dstLabel?: number;
  dstID?: number;
  /** Defaults to 2 when ipTraceId is given, 1 when origIP is given, else 0. */
  version?: number;
  /** 16 bytes (an IPv4 address in the first 4); written from v1 on. */
  origIP?: Uint8Array;
  /** Written in v2 only. */
  ipTraceId?: bigint;
}

export interface TraceNotify {
  type: number;
  obsPoint: number;
  source: number;
  hash: number;
  origLen: number;
  capLen: number;
  version: number;
  extVersion: number;
  srcLabel: number;
  dstLabel: number;
  dstID: number;
  reason: number;
  flags: number;
  ifindex: number;
  /** v1+: 16 bytes viewing the input (not a copy); undefined for v0. */
  origIP: Uint8Array | undefined;
  /** v2: IP option trace id; 0n before v2. */
  ipTraceId: bigint;
  /** Where the captured frame starts in the input. */
  payloadOffset: number;
}

/** Header length for a version, or undefined for versions this code does not know. */
export function traceNotifyHeaderLength(version: number): number | undefined {
  return headerLengthByVersion[version];
}

function versionOf(init: TraceNotifyInit): number {
  if (init.version !== undefined) return init.version;
  if (init.ipTraceId !== undefined) return TraceNotifyVersion.V2;
  return init.origIP !== undefined ? TraceNotifyVersion.V1 : TraceNotifyVersion.V0;
}

/**
 * Writes a trace notification header at offset 0 of `target` (capLen = frame bytes that will follow)
 * and returns its length, so a capture source can copy the frame right after it in the same buffer.
 * Throws RangeError for an unknown version, a target too small, or an origIP not 16 bytes long.
 */
export function writeTraceNotifyHeader(target: Uint8Array, init: TraceNotifyInit, capLen: number): number {
  const version = versionOf(init);
  const length = headerLengthByVersion[version];
  if (length === undefined) throw new RangeError(`trace notify version ${version} is not one of 0, 1, 2`);
  if (target.length < length) {
    throw new RangeError(`trace notify v${version} header needs ${length} bytes, target has ${target.length}`);
  }
  const view = viewOf(target);
  view.setUint8(0, MessageType.TRACE);
  view.setUint8(1, init.obsPoint);
  view.setUint16(2, init.source ?? 0, true);
  view.setUint32(4, init.hash ?? 0, true);
  view.setUint32(8, init.origLen, true);
  view.setUint16(12, capLen > CAP_LEN_MAX ? CAP_LEN_MAX : capLen, true);
  view.setUint8(14, version);
  view.setUint8(15, 0);
  view.setUint32(16, init.srcLabel ?? 0, true);
  view.setUint32(20, init.dstLabel ?? 0, true);
  view.setUint16(24, init.dstID ?? 0, true);
  view.setUint8(26, init.reason ?? 0);
  view.setUint8(27, init.flags ?? 0);
  view.setUint32(28, init.ifindex ?? 0, true);
  if (version >= TraceNotifyVersion.V1) {
    const origIP = init.origIP;
    if (origIP === undefined) {
      target.fill(0, 32, 48);
    } else if (origIP.length !== 16) {
      throw new RangeError(`trace notify origIP must be 16 bytes, got ${origIP.length}`);
    } else {
      target.set(origIP, 32);
    }
  }
  if (version >= TraceNotifyVersion.V2) {
    view.setBigUint64(48, init.ipTraceId ?? 0n, true);
  }
  return length;
}

/** A new buffer holding the header followed by a copy of `frame`. */
export function encodeTraceNotify(init: TraceNotifyInit, frame: Uint8Array): Uint8Array {
  const version = versionOf(init);
  const length = headerLengthByVersion[version];
  if (length === undefined) throw new RangeError(`trace notify version ${version} is not one of 0, 1, 2`);
  const out = new Uint8Array(length + frame.length);
  writeTraceNotifyHeader(out, init, frame.length);
  out.set(frame, length);
  return out;
}

/** Decodes a trace notification; throws DatapathDecodeError when too short, not a trace, or of an unknown version. */
export function decodeTraceNotify(data: Uint8Array): TraceNotify {
  requireLength(data, TRACE_NOTIFY_V0_LEN, 'trace notify');
  requireMessageType(data, MessageType.TRACE, 'trace notify');
  const version = data[14]!;
  if (version > TRACE_NOTIFY_MAX_VERSION) {
    throw new DatapathDecodeError('UNKNOWN_VERSION', `trace notify: unknown version ${version} (known: 0, 1, 2)`);
  }
  const headerLength = headerLengthByVersion[version]!;
  requireLength(data, headerLength, `trace notify v${version}`);
  const view = viewOf(data);
  return {
    type: data[0]!,
    obsPoint: data[1]!,
    source: view.getUint16(2, true),
    hash: view.getUint32(4, true),
    origLen: view.getUint32(8, true),
    capLen: view.getUint16(12, true),
    version,
    extVersion: data[15]!,
    srcLabel: view.getUint32(16, true),
    dstLabel: view.getUint32(20, true),
    dstID: view.getUint16(24, true),
    reason: data[26]!,
    flags: data[27]!,
    ifindex: view.getUint32(28, true),
    origIP: version >= TraceNotifyVersion.V1 ? data.subarray(32, 48) : undefined,
    ipTraceId: version >= TraceNotifyVersion.V2 ? view.getBigUint64(48, true) : 0n,
    // Upstream defines no extension lengths (they are for downstream forks), so an extension adds nothing.
    payloadOffset: headerLength,
  };
}

/** The original (pre reverse-NAT) address: 16 bytes for IPv6 flows, the first 4 otherwise; undefined for v0. */
export function traceNotifyOriginalIP(tn: TraceNotify): Uint8Array | undefined {
  if (tn.origIP === undefined) return undefined;
  return (tn.flags & TraceNotifyFlag.IS_IPV6) !== 0 ? tn.origIP : tn.origIP.subarray(0, 4);
}

// Reads the header of a trace, drop, policy-verdict or debug-capture event into one reused struct, for the per-packet
// path: the monitor codecs (src/monitor/datapath) return a new object and DataView per call, which costs more than
// decoding the packet itself. The layouts are the codecs' (see their header comments); whenever a message does not
// fit them, this defers to the codec, so errors are the codec's DatapathDecodeError word for word.

import { decodeDebugCapture, DEBUG_CAPTURE_LEN } from '../../monitor/datapath/debugCapture.js';
import { DatapathDecodeError } from '../../monitor/datapath/decodeError.js';
import { decodeDropNotify } from '../../monitor/datapath/dropNotify.js';
import { MessageType } from '../../monitor/datapath/messageType.js';
import { decodePolicyVerdictNotify, POLICY_VERDICT_NOTIFY_LEN } from '../../monitor/datapath/policyVerdict.js';
import {
  decodeTraceNotify,
  ethernetFrameFlags,
  TraceReason,
  traceNotifyHeaderLength,
} from '../../monitor/datapath/traceNotify.js';
import type { CapturedFrame } from '../../monitor/types.js';
import { uint16LeAt, uint32LeAt } from '../../packet/format.js';

/** Header lengths of drop notifications by version (0 and 1 share a layout). */
const DROP_LENGTHS: readonly number[] = [36, 36, 40, 48];

/** The fields of the four L3/L4 event kinds; fields a kind lacks stay 0 (or -1 for offsets). */
export class EventHeader {
  type = 0;
  /** Trace: observation point; drop: drop reason; policy verdict: subtype; capture: capture point. */
  subType = 0;
  /** Endpoint id the event was emitted for. */
  source = 0;
  srcLabel = 0;
  dstLabel = 0;
  /** Trace: destination endpoint id, or the proxy port at TO_PROXY. */
  dstID = 0;
  /** Trace: reason byte, encrypt bit included. */
  reason = 0;
  /** Trace/drop: TraceNotifyFlag/DropNotifyFlag bits (same values); policy verdict: PolicyVerdictFlag bits. */
  flags = 0;
  ifindex = 0;
  /** Trace v1+: where the 16-byte original (pre-SNAT) address sits in the message, else -1. */
  origIPOffset = -1;
  /** Trace v2 / drop v3: the IP option trace id (as a number, like flow.IPTraceID), else 0. */
  ipTraceId = 0;
  /** Drop: BPF source line and file id. */
  line = 0;
  file = 0;
  /** Policy verdict: identity of the remote side, verdict (0 allowed, >0 proxy port, <0 -drop reason), auth type. */
  remoteLabel = 0;
  verdict = 0;
  authType = 0;
  /** Debug capture: first argument (ifindex or proxy port, by capture point). */
  arg1 = 0;
  /** Where the captured packet starts. */
  payloadOffset = 0;

  private clear(type: number): void {
    this.type = type;
    this.subType = 0;
    this.source = 0;
    this.srcLabel = 0;
    this.dstLabel = 0;
    this.dstID = 0;
    this.reason = 0;
    this.flags = 0;
    this.ifindex = 0;
    this.origIPOffset = -1;
    this.ipTraceId = 0;
    this.line = 0;
    this.file = 0;
    this.remoteLabel = 0;
    this.verdict = 0;
    this.authType = 0;
    this.arg1 = 0;
    this.payloadOffset = 0;
  }

  /**
   * Reads the header of `data` (a TRACE, DROP, POLICY_VERDICT or CAPTURE message; the caller checked the type byte).
   * Throws DatapathDecodeError when the message is too short or of an unknown version.
   */
  read(data: Uint8Array): void {
    const type = data[0]!;
    this.clear(type);
    switch (type) {
      case MessageType.TRACE:
        return this.readTrace(data);
      case MessageType.DROP:
        return this.readDrop(data);
      case MessageType.POLICY_VERDICT:
        if (data.length < POLICY_VERDICT_NOTIFY_LEN) return invalid(() => decodePolicyVerdictNotify(data));
        this.subType = data[1]!;
        this.source = uint16LeAt(data, 2);
        this.remoteLabel = uint32LeAt(data, 16);
        this.verdict = uint32LeAt(data, 20) | 0;
        this.flags = data[27]!;
        this.authType = data[28]!;
        this.payloadOffset = POLICY_VERDICT_NOTIFY_LEN;
        return;
      case MessageType.CAPTURE:
        if (data.length < DEBUG_CAPTURE_LEN) return invalid(() => decodeDebugCapture(data));
        this.subType = data[1]!;
        this.source = uint16LeAt(data, 2);
        this.arg1 = uint32LeAt(data, 16);
        this.payloadOffset = DEBUG_CAPTURE_LEN;
        return;
      default:
        throw new DatapathDecodeError(
          'WRONG_MESSAGE_TYPE',
          `message type ${type} is not a trace, drop, policy verdict or capture`,
        );
    }
  }

  /**
   * The header the TraceNotify of a captured frame would have (as the capture sources build it: FrameEventBuilder):
   * a trace at the frame's observation point on its interface, reason unknown, no identities, IPv6 flagged by the
   * Ethernet type (past one VLAN tag). The packet starts at the frame's start.
   */
  fromFrame(frame: CapturedFrame): void {
    this.clear(MessageType.TRACE);
    this.subType = frame.observationPoint;
    this.reason = TraceReason.UNKNOWN;
    this.ifindex = frame.ifindex;
    this.flags = ethernetFrameFlags(frame.bytes, frame.start, frame.capLen);
    this.payloadOffset = frame.start;
  }

  private readTrace(data: Uint8Array): void {
    const version = data.length > 14 ? data[14]! : 0;
    const length = traceNotifyHeaderLength(version);
    if (length === undefined || data.length < length) return invalid(() => decodeTraceNotify(data));
    this.subType = data[1]!;
    this.source = uint16LeAt(data, 2);
    this.srcLabel = uint32LeAt(data, 16);
    this.dstLabel = uint32LeAt(data, 20);
    this.dstID = uint16LeAt(data, 24);
    this.reason = data[26]!;
    this.flags = data[27]!;
    this.ifindex = uint32LeAt(data, 28);
    if (version >= 1) this.origIPOffset = 32;
    if (version >= 2) this.ipTraceId = u64le(data, 48);
    this.payloadOffset = length;
  }

  private readDrop(data: Uint8Array): void {
    const version = data.length > 14 ? data[14]! : 0;
    const length = DROP_LENGTHS[version];
    if (length === undefined || data.length < length) return invalid(() => decodeDropNotify(data));
    this.subType = data[1]!;
    this.source = uint16LeAt(data, 2);
    this.srcLabel = uint32LeAt(data, 16);
    this.dstLabel = uint32LeAt(data, 20);
    this.dstID = uint32LeAt(data, 24);
    this.line = uint16LeAt(data, 28);
    this.file = data[30]!;
    this.ifindex = uint32LeAt(data, 32);
    if (version >= 2) this.flags = data[36]!;
    if (version >= 3) this.ipTraceId = u64le(data, 40);
    this.payloadOffset = length;
  }
}

/** Lets the codec throw its error for a message this reader will not lay out; it must throw. */
function invalid(decode: () => unknown): never {
  decode();
  throw new DatapathDecodeError('INVALID_FIELD', 'event header rejected without a codec error');
}

function u64le(d: Uint8Array, o: number): number {
  return uint32LeAt(d, o + 4) * 0x100000000 + uint32LeAt(d, o);
}

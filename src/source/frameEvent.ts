// Wraps one captured frame as the MonitorEvent the parser reads: a TraceNotify v0 header, then the frame normalised to
// Ethernet. Every event's bytes are carved out of a shared slab, so a frame costs one copy and no buffer of its own.
// A target that takes frames (the monitor agent) gets an Ethernet frame as it lies in the source's buffer instead,
// and the event is built from it only if one of its consumers reads events: a recording alone costs no copy.

import { MessageType } from '../monitor/datapath/messageType.js';
import {
  ethernetFrameFlags,
  TRACE_NOTIFY_V0_LEN,
  TraceNotifyFlag,
  TraceObservationPoint,
  TraceReason,
} from '../monitor/datapath/traceNotify.js';
import type { CapturedFrame, MonitorEvent } from '../monitor/types.js';
import type { Publish, PublishTarget } from './source.js';
import { Direction, ETHERTYPE_IPV4, ETHERTYPE_IPV6, LinkType, SllPacketType } from './linkTypes.js';
import { uint16At, uint32At } from '../packet/format.js';

const ETHERNET_HEADER_LEN = 14;
const SLL_HEADER_LEN = 16;
const SLL2_HEADER_LEN = 20;
const BSD_LOOPBACK_HEADER_LEN = 4;
/** Types below this in the Ethernet type/length field are 802.3 lengths. */
const ETHERTYPE_MIN = 0x0600;
const ETH_P_802_3 = 0x0001;
const ETH_P_802_2 = 0x0004;
const MAX_8023_LENGTH = 1500;
/** TraceNotify.capLen is 16 bits; longer frames are carried whole and say 0xffff. */
const CAP_LEN_MAX = 0xffff;

/**
 * Big enough that allocations are rare (a few per thousand frames), small enough that a slab kept alive by one
 * event still in the ring costs little.
 */
export const DEFAULT_SLAB_SIZE = 256 * 1024;

/** A plain Uint8Array over uninitialised memory: every byte of an event is written before it is published. */
function allocateSlab(size: number): Uint8Array {
  const raw = Buffer.allocUnsafeSlow(size);
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
}

export class FrameEventBuilder {
  /** Frames turned into events. */
  events = 0;
  /** Captured bytes of those frames, as captured. */
  bytes = 0;
  /** Frames that could not be normalised. */
  skipped = 0;
  /** Published frames whose capture is shorter than the frame was on the wire. */
  sliced = 0;
  /** Link types of frames skipped because we cannot normalise that link type at all. */
  readonly unsupportedLinkTypes = new Set<number>();

  /** The frame publish() hands over, reused. */
  private readonly frame = new LazyEventFrame(this);
  private slab: Uint8Array;
  private view: DataView;
  private used = 0;

  constructor(
    readonly nodeName: string,
    private readonly slabSize = DEFAULT_SLAB_SIZE,
  ) {
    this.slab = allocateSlab(slabSize);
    this.view = new DataView(this.slab.buffer, this.slab.byteOffset, this.slab.byteLength);
  }

  /**
   * The event for the frame src[start, start + capLen) of `linkType`, captured at seconds.nanos, `origLen` bytes
   * long on the wire; undefined (and counted in `skipped`) when it cannot be normalised. `direction` and `ifindex`
   * are what the capture says outside the frame; a cooked (SLL/SLL2) header overrides them.
   */
  build(
    src: Uint8Array,
    start: number,
    capLen: number,
    origLen: number,
    linkType: number,
    direction: number,
    ifindex: number,
    seconds: number,
    nanos: number,
  ): MonitorEvent | undefined {
    const event = this.make(src, start, capLen, origLen, linkType, direction, ifindex, seconds, nanos);
    if (event === undefined) return this.skip();
    this.count(capLen, origLen);
    return event;
  }

  /**
   * Publishes one frame (build()'s arguments): an Ethernet frame to a target that takes frames as a CapturedFrame,
   * counted as build() counts an event but with no event built unless someone asks the frame for it; any other frame
   * as the event build() makes, if it makes one. Returns what the target returned (undefined for a skipped frame).
   */
  publish(
    to: PublishTarget,
    src: Uint8Array,
    start: number,
    capLen: number,
    origLen: number,
    linkType: number,
    direction: number,
    ifindex: number,
    seconds: number,
    nanos: number,
  ): unknown {
    if (linkType === LinkType.ETHERNET && to.publishFrame !== undefined) {
      const frame = this.frame;
      frame.bytes = src;
      frame.start = start;
      frame.capLen = capLen;
      frame.origLen = origLen;
      frame.seconds = seconds;
      frame.nanos = nanos;
      frame.direction = direction;
      frame.ifindex = ifindex;
      frame.built = undefined;
      this.count(capLen, origLen);
      return to.publishFrame(frame);
    }
    const event = this.build(src, start, capLen, origLen, linkType, direction, ifindex, seconds, nanos);
    return event === undefined ? undefined : to.publish(event);
  }

  /** The event of a frame publish() handed over as a frame, for CapturedFrame.event() (counted when handed over). */
  eventOf(frame: LazyEventFrame): MonitorEvent {
    const { bytes, start, capLen, origLen, direction, ifindex, seconds, nanos } = frame;
    return this.make(bytes, start, capLen, origLen, LinkType.ETHERNET, direction, ifindex, seconds, nanos)!;
  }

  /** build() without the counting: the event, or undefined when the frame cannot be normalised. */
  private make(
    src: Uint8Array,
    start: number,
    capLen: number,
    origLen: number,
    linkType: number,
    direction: number,
    ifindex: number,
    seconds: number,
    nanos: number,
  ): MonitorEvent | undefined {
    // The frame is copied from `payload`; when `ethertype` is set, an Ethernet header is synthesised in front of it.
    let payload = start;
    let payloadLen = capLen;
    let ethertype = -1;
    let macAt = -1;
    let dir = direction;
    let index = ifindex;
    switch (linkType) {
      case LinkType.ETHERNET:
        break;
      case LinkType.LINUX_SLL: {
        if (capLen < SLL_HEADER_LEN) return undefined;
        dir = uint16At(src, start) === SllPacketType.OUTGOING ? Direction.OUTBOUND : Direction.INBOUND;
        if (uint16At(src, start + 4) === 6) macAt = start + 6;
        ethertype = uint16At(src, start + 14);
        payload += SLL_HEADER_LEN;
        payloadLen -= SLL_HEADER_LEN;
        break;
      }
      case LinkType.LINUX_SLL2: {
        if (capLen < SLL2_HEADER_LEN) return undefined;
        ethertype = uint16At(src, start);
        index = uint32At(src, start + 4);
        dir = src[start + 10] === SllPacketType.OUTGOING ? Direction.OUTBOUND : Direction.INBOUND;
        if (src[start + 11] === 6) macAt = start + 12;
        payload += SLL2_HEADER_LEN;
        payloadLen -= SLL2_HEADER_LEN;
        break;
      }
      case LinkType.RAW:
      case LinkType.RAW_BSD:
      case LinkType.RAW_OPENBSD: {
        if (capLen < 1) return undefined;
        const version = src[start]! >> 4;
        if (version === 4) ethertype = ETHERTYPE_IPV4;
        else if (version === 6) ethertype = ETHERTYPE_IPV6;
        else return undefined;
        break;
      }
      case LinkType.IPV4:
        ethertype = ETHERTYPE_IPV4;
        break;
      case LinkType.IPV6:
        ethertype = ETHERTYPE_IPV6;
        break;
      case LinkType.NULL:
      case LinkType.LOOP: {
        // The address family's numbering differs between BSDs (INET6 is 10, 24, 28 or 30), the IP version does not.
        if (capLen <= BSD_LOOPBACK_HEADER_LEN) return undefined;
        const version = src[start + BSD_LOOPBACK_HEADER_LEN]! >> 4;
        if (version === 4) ethertype = ETHERTYPE_IPV4;
        else if (version === 6) ethertype = ETHERTYPE_IPV6;
        else return undefined;
        payload += BSD_LOOPBACK_HEADER_LEN;
        payloadLen -= BSD_LOOPBACK_HEADER_LEN;
        break;
      }
      default:
        this.unsupportedLinkTypes.add(linkType);
        return undefined;
    }

    let frameLen = payloadLen;
    let wireLen = origLen < capLen ? capLen : origLen;
    let flags = 0;
    if (ethertype < 0) {
      flags = ethernetFrameFlags(src, start, capLen);
    } else {
      if (ethertype < ETHERTYPE_MIN) {
        // A cooked capture of an 802.3 frame: the Ethernet type/length field carries the payload length instead.
        if ((ethertype !== ETH_P_802_2 && ethertype !== ETH_P_802_3) || payloadLen > MAX_8023_LENGTH) {
          return undefined;
        }
        ethertype = payloadLen;
      } else if (ethertype === ETHERTYPE_IPV6) {
        flags = TraceNotifyFlag.IS_IPV6;
      }
      frameLen += ETHERNET_HEADER_LEN;
      wireLen += ETHERNET_HEADER_LEN - (capLen - payloadLen);
    }

    const total = TRACE_NOTIFY_V0_LEN + frameLen;
    if (this.used + total > this.slab.length) this.newSlab(total);
    const slab = this.slab;
    const view = this.view;
    const at = this.used;
    this.used = at + total;

    // struct trace_notify v0, little-endian; every byte is written because the slab is not zeroed.
    view.setUint32(
      at,
      MessageType.TRACE |
        ((dir === Direction.OUTBOUND ? TraceObservationPoint.TO_NETWORK : TraceObservationPoint.FROM_NETWORK) << 8),
      true,
    );
    view.setUint32(at + 4, 0, true); // hash
    view.setUint32(at + 8, wireLen, true);
    view.setUint32(at + 12, frameLen > CAP_LEN_MAX ? CAP_LEN_MAX : frameLen, true); // capLen, version 0, extVersion 0
    view.setUint32(at + 16, 0, true); // srcLabel
    view.setUint32(at + 20, 0, true); // dstLabel
    view.setUint32(at + 24, (TraceReason.UNKNOWN << 16) | (flags << 24), true); // dstID 0, reason, flags
    view.setUint32(at + 28, index, true);

    let out = at + TRACE_NOTIFY_V0_LEN;
    if (ethertype >= 0) {
      // Destination unknown; the cooked header's link-layer address is the frame's source whichever way it went.
      view.setUint32(out, 0, true);
      view.setUint16(out + 4, 0, true);
      if (macAt >= 0) {
        for (let i = 0; i < 6; i++) slab[out + 6 + i] = src[macAt + i]!;
      } else {
        view.setUint32(out + 6, 0, true);
        view.setUint16(out + 10, 0, true);
      }
      view.setUint16(out + 12, ethertype, false);
      out += ETHERNET_HEADER_LEN;
    }
    slab.set(src.subarray(payload, payload + payloadLen), out);

    return {
      timestamp: { seconds, nanos },
      nodeName: this.nodeName,
      payload: { kind: 'perf', cpu: 0, data: slab.subarray(at, at + total) },
    };
  }

  /** Counts one frame handed over (as an event or as a frame). */
  private count(capLen: number, origLen: number): void {
    this.events++;
    this.bytes += capLen;
    if (origLen > capLen) this.sliced++;
  }

  private skip(): undefined {
    this.skipped++;
    return undefined;
  }

  private newSlab(atLeast: number): void {
    this.slab = allocateSlab(atLeast > this.slabSize ? atLeast : this.slabSize);
    this.view = new DataView(this.slab.buffer, this.slab.byteOffset, this.slab.byteLength);
    this.used = 0;
  }
}

/** What a source's run() was given, as a PublishTarget: a plain function takes events only. */
export function publishTargetOf(target: Publish | PublishTarget): PublishTarget {
  return typeof target === 'function' ? { publish: target } : target;
}

/** The frame being published, reused; its event is made from the arguments build() would have had, once, if asked. */
class LazyEventFrame implements CapturedFrame {
  bytes: Uint8Array = new Uint8Array(0);
  start = 0;
  capLen = 0;
  origLen = 0;
  seconds = 0;
  nanos = 0;
  direction = 0;
  ifindex = 0;
  built: MonitorEvent | undefined = undefined;

  constructor(private readonly builder: FrameEventBuilder) {}

  get observationPoint(): number {
    return this.direction === Direction.OUTBOUND
      ? TraceObservationPoint.TO_NETWORK
      : TraceObservationPoint.FROM_NETWORK;
  }

  get nodeName(): string {
    return this.builder.nodeName;
  }

  event(): MonitorEvent {
    return (this.built ??= this.builder.eventOf(this));
  }
}

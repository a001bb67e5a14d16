// The recorder's monitor consumer, beside the Observer: for each packet-carrying event, or captured frame straight from
// a capture source, it reads the packet's 5-tuple once, finds the running recordings whose filters match through an
// index compiled when recordings start and stop (by family, protocol and destination port, long lists again by an
// address's first byte, then source port and prefixes), and hands each of them the packet. RecorderCapture events
// from a real datapath carry their rule id and go straight to that recording.
//
// The per-packet path allocates nothing (the sinks copy what they take) and, with no recordings, reads one field.
// It tells the source when a recording's queue is filling up (a replay then waits for the writes; see backlog()).

import { DEBUG_CAPTURE_LEN } from '../monitor/datapath/debugCapture.js';
import {
  DROP_NOTIFY_V1_LEN,
  DROP_NOTIFY_V2_LEN,
  DROP_NOTIFY_V3_LEN,
  DropNotifyFlag,
} from '../monitor/datapath/dropNotify.js';
import { MessageType } from '../monitor/datapath/messageType.js';
import { POLICY_VERDICT_NOTIFY_LEN, PolicyVerdictFlag } from '../monitor/datapath/policyVerdict.js';
import { RECORDER_CAPTURE_LEN } from '../monitor/datapath/recorderCapture.js';
import { TraceNotifyFlag, traceNotifyHeaderLength } from '../monitor/datapath/traceNotify.js';
import type { CapturedFrame, MonitorConsumer, MonitorEvent } from '../monitor/types.js';
import { decodeFrame, LinkType, PacketHeaders } from '../packet/frame.js';
import { EtherType, IpProtocol } from '../packet/protocols.js';
import { uint16At, uint32LeAt } from '../packet/format.js';
import { RecordingSink, type SinkHooks, type SinkTuning } from './sink.js';
import { SinkError } from './sinkError.js';
import { RecordingProtocol, type RecordingFilter, type Sink, type SinkEnd, type SinkOptions } from './types.js';

export interface SinkDispatcherOptions {
  /** Writer batching, statistics interval: for tests and benchmarks. */
  tuning?: SinkTuning;
}

/** Capture lengths in the 16-bit capLen fields saturate here; the frame is then the rest of the message. */
const CAP_LEN_SATURATED = 0xffff;
const ETHERNET_HEADER_LEN = 14;

/** Index slot of a filter protocol: ANY, TCP, UDP, SCTP. */
const PROTOCOL_SLOTS = 4;
const ANY_SLOT = 0;

/** The slot of an IP protocol number, or -1 for protocols only ANY filters match. */
function protocolSlot(protocol: number): number {
  switch (protocol) {
    case IpProtocol.TCP:
      return 1;
    case IpProtocol.UDP:
      return 2;
    case IpProtocol.SCTP:
      return 3;
    default:
      return -1;
  }
}

function filterSlot(protocol: RecordingProtocol): number {
  return protocol === RecordingProtocol.ANY ? ANY_SLOT : protocolSlot(protocol);
}

/** The 32-bit word `word` (0..3) of a prefix length as a mask, as a signed int like the words it masks. */
function maskWord(bits: number, word: number): number {
  const rest = bits - 32 * word;
  if (rest <= 0) return 0;
  if (rest >= 32) return -1;
  return (-1 << (32 - rest)) | 0;
}

function wordAt(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
}

/**
 * One filter of one recording, its prefixes as masked 32-bit words (IPv4 uses word 0 only), so matching is a few
 * integer comparisons.
 */
class CompiledFilter {
  readonly sourcePort: number;
  readonly sourceBits: number;
  readonly destinationBits: number;
  readonly s0: number;
  readonly s1: number;
  readonly s2: number;
  readonly s3: number;
  readonly sm0: number;
  readonly sm1: number;
  readonly sm2: number;
  readonly sm3: number;
  readonly d0: number;
  readonly d1: number;
  readonly d2: number;
  readonly d3: number;
  readonly dm0: number;
  readonly dm1: number;
  readonly dm2: number;
  readonly dm3: number;

  constructor(
    readonly sink: RecordingSink,
    filter: RecordingFilter,
  ) {
    this.sourcePort = filter.sourcePort;
    const s = filter.source;
    const d = filter.destination;
    this.sourceBits = s.bits;
    this.destinationBits = d.bits;
    this.sm0 = maskWord(s.bits, 0);
    this.sm1 = maskWord(s.bits, 1);
    this.sm2 = maskWord(s.bits, 2);
    this.sm3 = maskWord(s.bits, 3);
    this.s0 = wordAt(s.bytes, 0) & this.sm0;
    this.s1 = wordAt(s.bytes, 4) & this.sm1;
    this.s2 = wordAt(s.bytes, 8) & this.sm2;
    this.s3 = wordAt(s.bytes, 12) & this.sm3;
    this.dm0 = maskWord(d.bits, 0);
    this.dm1 = maskWord(d.bits, 1);
    this.dm2 = maskWord(d.bits, 2);
    this.dm3 = maskWord(d.bits, 3);
    this.d0 = wordAt(d.bytes, 0) & this.dm0;
    this.d1 = wordAt(d.bytes, 4) & this.dm1;
    this.d2 = wordAt(d.bytes, 8) & this.dm2;
    this.d3 = wordAt(d.bytes, 12) & this.dm3;
  }
}

/** Buckets longer than this are split by the first byte of an address (see Bucket). */
const SPLIT_ABOVE = 4;

/**
 * The filters that share a protocol and destination port. A long list is split by the first byte of the source or
 * the destination address (whichever separates more filters): filters whose prefix fixes that byte go by it, the
 * rest stay in `wide`, so a packet checks `wide` and one slot instead of every filter.
 */
class Bucket {
  readonly wide: CompiledFilter[] = [];
  /** [first address byte] → filters whose prefix starts with it; undefined when the bucket is not split. */
  byFirstByte: (CompiledFilter[] | undefined)[] | undefined;
  /** Whether byFirstByte goes by the source address (else the destination). */
  bySource = false;

  split(): void {
    const all = this.wide;
    if (all.length <= SPLIT_ABOVE) return;
    let sources = 0;
    let destinations = 0;
    for (const f of all) {
      if (f.sourceBits >= 8) sources++;
      if (f.destinationBits >= 8) destinations++;
    }
    if (Math.max(sources, destinations) < 2) return;
    const bySource = sources >= destinations;
    const byFirstByte = new Array<CompiledFilter[] | undefined>(256).fill(undefined);
    const wide: CompiledFilter[] = [];
    for (const f of all) {
      if ((bySource ? f.sourceBits : f.destinationBits) < 8) wide.push(f);
      else (byFirstByte[(bySource ? f.s0 : f.d0) >>> 24] ??= []).push(f);
    }
    all.splice(0, all.length, ...wide);
    this.byFirstByte = byFirstByte;
    this.bySource = bySource;
  }
}

/** The filters of one address family, by protocol slot and then destination port. */
class FamilyIndex {
  /** [slot][destination port] → filters naming that port; a slot stays undefined until a filter names a port. */
  readonly byPort: ((Bucket | undefined)[] | undefined)[] = new Array(PROTOCOL_SLOTS).fill(undefined);
  /** [slot] → filters for any destination port. */
  readonly anyPort: (Bucket | undefined)[] = new Array(PROTOCOL_SLOTS).fill(undefined);
  private readonly buckets: Bucket[] = [];

  add(filter: CompiledFilter, slot: number, destinationPort: number): void {
    let bucket: Bucket | undefined;
    if (destinationPort === 0) {
      bucket = this.anyPort[slot];
      if (bucket === undefined) bucket = this.anyPort[slot] = this.newBucket();
    } else {
      const ports = (this.byPort[slot] ??= new Array<Bucket | undefined>(65536).fill(undefined));
      bucket = ports[destinationPort];
      if (bucket === undefined) bucket = ports[destinationPort] = this.newBucket();
    }
    bucket.wide.push(filter);
  }

  /** Splits the long buckets once every filter is in. */
  finish(): void {
    for (const bucket of this.buckets) bucket.split();
  }

  private newBucket(): Bucket {
    const bucket = new Bucket();
    this.buckets.push(bucket);
    return bucket;
  }
}

/** Monitor consumer that feeds the running recordings; see the module comment. */
export class SinkDispatcher implements MonitorConsumer {
  private readonly running = new Map<number, RecordingSink>();
  private readonly starting = new Set<number>();
  private readonly tuning: SinkTuning;
  private shuttingDown = false;
  /** Packets lost by recordings that have ended (running ones count their own; see packetsLost). */
  private endedPacketsLost = 0;

  // Rebuilt whenever a recording starts or stops taking packets; the hot path only reads them.
  /** Sinks taking packets (filters or rule id); 0 makes every event cost one comparison. */
  private active = 0;
  private byRuleId = new Map<number, RecordingSink>();
  private ipv4: FamilyIndex | undefined;
  private ipv6: FamilyIndex | undefined;

  // Per-packet state, reused.
  private readonly headers = new PacketHeaders();
  private stamp = 0;
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private d0 = 0;
  private d1 = 0;
  private d2 = 0;
  private d3 = 0;
  private sourcePort = -1;
  private destinationPort = -1;
  private ipProtocol = -1;
  private hasPorts = false;
  /** A recording offered the packet asks the source to wait for its writes. */
  private wait = false;
  private data: Uint8Array = new Uint8Array(0);
  private start = 0;
  private captured = 0;
  private origLen = 0;
  private etherType = -1;
  private seconds = 0;
  private nanos = 0;

  private readonly hooks: SinkHooks = {
    onClosing: (sink) => {
      if (this.running.get(sink.ruleId) === sink) this.rebuild();
    },
  };

  constructor(options: SinkDispatcherOptions = {}) {
    this.tuning = options.tuning ?? {};
  }

  /** Running recordings by rule id, until their file is closed. */
  get sinks(): ReadonlyMap<number, Sink> {
    return this.running;
  }

  /**
   * Creates the recording's file (exclusively, mode 0600, header written) and starts feeding it matching packets.
   * Rejects with a SinkError when the options are wrong, the rule id is taken, or the file cannot be created.
   */
  async startSink(options: SinkOptions): Promise<Sink> {
    if (this.shuttingDown) {
      throw new SinkError('BAD_OPTIONS', `recording to ${options.path} not started: recordings are shutting down`);
    }
    const ruleId = options.ruleId;
    if (this.running.has(ruleId) || this.starting.has(ruleId)) {
      throw new SinkError('BAD_OPTIONS', `rule id ${ruleId} belongs to a running recording`);
    }
    this.starting.add(ruleId);
    let sink: RecordingSink;
    try {
      sink = await RecordingSink.start(options, this.hooks, this.tuning);
    } finally {
      this.starting.delete(ruleId);
    }
    if (this.shuttingDown) {
      await sink.stop('shutdown');
      throw new SinkError('BAD_OPTIONS', `recording to ${options.path} stopped at once: recordings are shutting down`);
    }
    this.running.set(ruleId, sink);
    void sink.ended.then((end) => {
      if (this.running.get(ruleId) === sink) this.running.delete(ruleId);
      this.endedPacketsLost += end.statistics.packetsLost;
    });
    this.rebuild();
    return sink;
  }

  /** Packets every recording so far has lost (its queue was full, or its file could not be written). */
  get packetsLost(): number {
    let lost = this.endedPacketsLost;
    for (const sink of this.running.values()) lost += sink.statistics().packetsLost;
    return lost;
  }

  /** Packets the running recordings have taken but not yet written. */
  get queuedPackets(): number {
    let queued = 0;
    for (const sink of this.running.values()) queued += sink.queuedPackets;
    return queued;
  }

  /**
   * While any recording's queue is too full to take a source's next packets without risk (what makes
   * onMonitorEvent and onCapturedFrame return true): a promise that resolves once each has room again; undefined
   * otherwise. A replay waits on it whenever asked to and between chunks, so it never outruns the writers.
   */
  backlog(): Promise<void> | undefined {
    if (this.active === 0) return undefined;
    let waits: Promise<void>[] | undefined;
    for (const sink of this.running.values()) {
      const wait = sink.room();
      if (wait !== undefined) (waits ??= []).push(wait);
    }
    return waits === undefined ? undefined : Promise.all(waits).then(() => undefined);
  }

  /** Stops every recording (each flushes and closes its file) and refuses new ones; resolves with how each ended. */
  async stopAll(reason: 'shutdown'): Promise<SinkEnd[]> {
    this.shuttingDown = true;
    return Promise.all([...this.running.values()].map((sink) => sink.stop(reason)));
  }

  private rebuild(): void {
    let active = 0;
    const byRuleId = new Map<number, RecordingSink>();
    let ipv4: FamilyIndex | undefined;
    let ipv6: FamilyIndex | undefined;
    for (const sink of this.running.values()) {
      if (!sink.accepting) continue;
      active++;
      byRuleId.set(sink.ruleId, sink);
      for (const filter of sink.filters) {
        const slot = filterSlot(filter.protocol);
        if (slot < 0) continue;
        const index = filter.source.family === 4 ? (ipv4 ??= new FamilyIndex()) : (ipv6 ??= new FamilyIndex());
        index.add(new CompiledFilter(sink, filter), slot, filter.destinationPort);
      }
    }
    ipv4?.finish();
    ipv6?.finish();
    this.byRuleId = byRuleId;
    this.ipv4 = ipv4;
    this.ipv6 = ipv6;
    this.active = active;
  }

  onMonitorEvent(event: MonitorEvent): boolean {
    if (this.active === 0) return false;
    const payload = event.payload;
    if (payload.kind !== 'perf') return false;
    const data = payload.data;
    const length = data.length;
    if (length === 0) return false;

    // Where the frame starts, how much of it was captured, how long it was, and how to read its first byte.
    let start: number;
    let capLen: number;
    let origLen: number;
    let l3 = false;
    let ipv6 = false;
    switch (data[0]) {
      case MessageType.TRACE: {
        if (length < 32) return false;
        const header = traceNotifyHeaderLength(data[14]!);
        if (header === undefined) return false;
        start = header;
        capLen = data[12]! | (data[13]! << 8);
        origLen = uint32LeAt(data, 8);
        const flags = data[27]!;
        l3 = (flags & TraceNotifyFlag.IS_L3_DEVICE) !== 0;
        ipv6 = (flags & TraceNotifyFlag.IS_IPV6) !== 0;
        break;
      }
      case MessageType.DROP: {
        if (length < DROP_NOTIFY_V1_LEN) return false;
        const version = data[14]!;
        if (version > 3) return false;
        start = version <= 1 ? DROP_NOTIFY_V1_LEN : version === 2 ? DROP_NOTIFY_V2_LEN : DROP_NOTIFY_V3_LEN;
        capLen = data[12]! | (data[13]! << 8);
        origLen = uint32LeAt(data, 8);
        // Flags exist from version 2 on.
        const flags = version >= 2 && length > 36 ? data[36]! : 0;
        l3 = (flags & DropNotifyFlag.IS_L3_DEVICE) !== 0;
        ipv6 = (flags & DropNotifyFlag.IS_IPV6) !== 0;
        break;
      }
      case MessageType.POLICY_VERDICT: {
        start = POLICY_VERDICT_NOTIFY_LEN;
        if (length < start) return false;
        capLen = data[12]! | (data[13]! << 8);
        origLen = uint32LeAt(data, 8);
        const flags = data[27]!;
        l3 = (flags & PolicyVerdictFlag.IS_L3) !== 0;
        ipv6 = (flags & PolicyVerdictFlag.IS_IPV6) !== 0;
        break;
      }
      case MessageType.CAPTURE: {
        start = DEBUG_CAPTURE_LEN;
        if (length < start) return false;
        capLen = uint32LeAt(data, 8);
        origLen = uint32LeAt(data, 12);
        break;
      }
      case MessageType.RECORDER_CAPTURE:
        return this.recorderCapture(event, data);
      default:
        return false;
    }
    if (this.ipv4 === undefined && this.ipv6 === undefined) return false;
    const rest = length - start;
    // A capture length short of the message trims what the perf ring may append; a saturated or missing one does not.
    const captured = capLen > 0 && capLen < CAP_LEN_SATURATED && capLen < rest ? capLen : rest;
    if (captured <= 0) return false;
    // The file is Ethernet: a packet of an L3 device gets an Ethernet header, so its frame is that much longer.
    return this.match(
      data,
      start,
      captured,
      l3 ? origLen + ETHERNET_HEADER_LEN : origLen,
      l3 ? (ipv6 ? EtherType.IPV6 : EtherType.IPV4) : -1,
      event.timestamp.seconds,
      event.timestamp.nanos,
    );
  }

  /** A frame straight from a capture source, before (or instead of) its event: Ethernet, matched where it lies. */
  onCapturedFrame(frame: CapturedFrame): boolean {
    if (this.active === 0 || (this.ipv4 === undefined && this.ipv6 === undefined)) return false;
    const capLen = frame.capLen;
    if (capLen <= 0) return false;
    return this.match(frame.bytes, frame.start, capLen, frame.origLen, -1, frame.seconds, frame.nanos);
  }

  /**
   * Offers the packet data[start, start + captured) — an Ethernet frame, or an IP packet to be given an Ethernet
   * header of type `etherType` when that is >= 0 — to every recording whose filters match it. Returns true when one
   * of them asks the source to wait for its writes (its queue is filling up).
   */
  private match(
    data: Uint8Array,
    start: number,
    captured: number,
    origLen: number,
    etherType: number,
    seconds: number,
    nanos: number,
  ): boolean {
    let index: FamilyIndex | undefined;
    const ipVersion = this.readTuple(data, start, start + captured, etherType);
    if (ipVersion === 4) index = this.ipv4;
    else if (ipVersion === 6) index = this.ipv6;
    if (index === undefined) return false;

    const slot = protocolSlot(this.ipProtocol);
    // Ports count only where a transport header gave them (not in later fragments): port filters skip the rest.
    const hasPorts = slot > 0 && this.hasPorts;
    const destinationPort = hasPorts ? this.destinationPort : -1;
    if (!hasPorts) this.sourcePort = -1;
    this.stamp++;
    this.data = data;
    this.start = start;
    this.captured = captured;
    this.etherType = etherType;
    this.origLen = origLen;
    this.seconds = seconds;
    this.nanos = nanos;
    this.wait = false;

    if (slot > 0) {
      if (hasPorts) {
        const ports = index.byPort[slot];
        if (ports !== undefined) this.offerBucket(ports[destinationPort]);
      }
      this.offerBucket(index.anyPort[slot]);
    }
    if (hasPorts) {
      const ports = index.byPort[ANY_SLOT];
      if (ports !== undefined) this.offerBucket(ports[destinationPort]);
    }
    this.offerBucket(index.anyPort[ANY_SLOT]);
    // Let go of the packet's buffer.
    this.data = EMPTY;
    return this.wait;
  }

  /**
   * Reads the addresses, protocol and ports of the packet in d[start, end) — at its Ethernet header, or at its IP
   * header when `etherType` (>= 0) says which — into the per-packet fields; returns the IP version, 0 for packets
   * without an IP header. The common packets (no VLAN tag; IPv4 that is not a later fragment, or IPv6 without
   * extension headers; carrying TCP, UDP or SCTP) are read here, everything else by decodeFrame, which this agrees
   * with on every packet it reads.
   */
  private readTuple(d: Uint8Array, start: number, end: number, etherType: number): number {
    let p = start;
    let type = etherType;
    if (type < 0 && end - p >= ETHERNET_HEADER_LEN) {
      type = uint16At(d, p + 12);
      p += ETHERNET_HEADER_LEN;
    }
    if (type === EtherType.IPV4) {
      if (end - p >= 20) {
        const headerLength = (d[p]! & 0x0f) * 4;
        let totalLength = uint16At(d, p + 2);
        if (totalLength === 0) totalLength = end - p;
        const protocol = d[p + 9]!;
        if (
          headerLength >= 20 &&
          totalLength >= headerLength &&
          end - p >= headerLength &&
          ((d[p + 6]! & 0x1f) | d[p + 7]!) === 0 &&
          protocolSlot(protocol) > 0
        ) {
          this.s0 = wordAt(d, p + 12);
          this.d0 = wordAt(d, p + 16);
          this.s1 = this.s2 = this.s3 = this.d1 = this.d2 = this.d3 = 0;
          this.ipProtocol = protocol;
          this.readPorts(d, p + headerLength, p + totalLength > end ? end : p + totalLength);
          return 4;
        }
      }
    } else if (type === EtherType.IPV6) {
      if (end - p >= 40) {
        const next = d[p + 6]!;
        if (protocolSlot(next) > 0) {
          const payloadLength = uint16At(d, p + 4);
          const claimedEnd = payloadLength === 0 ? end : p + 40 + payloadLength;
          this.setIPv6Addresses(d, p + 8, p + 24);
          this.ipProtocol = next;
          this.readPorts(d, p + 40, claimedEnd > end ? end : claimedEnd);
          return 6;
        }
      }
    }
    const h = this.headers;
    decodeFrame(
      h,
      d,
      etherType < 0 ? LinkType.ETHERNET : etherType === EtherType.IPV6 ? LinkType.IPV6 : LinkType.IPV4,
      start,
      end,
    );
    const sa = h.sourceAddressOffset;
    const da = h.destinationAddressOffset;
    if (h.ipVersion === 4) {
      this.s0 = wordAt(d, sa);
      this.d0 = wordAt(d, da);
      this.s1 = this.s2 = this.s3 = this.d1 = this.d2 = this.d3 = 0;
    } else if (h.ipVersion === 6) {
      this.setIPv6Addresses(d, sa, da);
    } else {
      return 0;
    }
    this.ipProtocol = h.ipProtocol;
    this.hasPorts = h.hasPorts;
    this.sourcePort = h.sourcePort;
    this.destinationPort = h.destinationPort;
    return h.ipVersion;
  }

  private setIPv6Addresses(d: Uint8Array, sa: number, da: number): void {
    this.s0 = wordAt(d, sa);
    this.s1 = wordAt(d, sa + 4);
    this.s2 = wordAt(d, sa + 8);
    this.s3 = wordAt(d, sa + 12);
    this.d0 = wordAt(d, da);
    this.d1 = wordAt(d, da + 4);
    this.d2 = wordAt(d, da + 8);
    this.d3 = wordAt(d, da + 12);
  }

  /** The transport header at d[p, networkEnd): its ports when its first four bytes are there (decodeFrame's rule). */
  private readPorts(d: Uint8Array, p: number, networkEnd: number): void {
    if (networkEnd - p >= 4) {
      this.hasPorts = true;
      this.sourcePort = uint16At(d, p);
      this.destinationPort = uint16At(d, p + 2);
    } else {
      this.hasPorts = false;
    }
  }

  private offerBucket(bucket: Bucket | undefined): void {
    if (bucket === undefined) return;
    if (bucket.wide.length > 0) this.offerMatching(bucket.wide);
    const byFirstByte = bucket.byFirstByte;
    if (byFirstByte !== undefined) this.offerMatching(byFirstByte[(bucket.bySource ? this.s0 : this.d0) >>> 24]);
  }

  /** Offers the current packet to the sink of every filter of `filters` it matches, once per sink. */
  private offerMatching(filters: CompiledFilter[] | undefined): void {
    if (filters === undefined) return;
    const stamp = this.stamp;
    const sourcePort = this.sourcePort;
    const s0 = this.s0;
    const s1 = this.s1;
    const s2 = this.s2;
    const s3 = this.s3;
    const d0 = this.d0;
    const d1 = this.d1;
    const d2 = this.d2;
    const d3 = this.d3;
    for (let i = 0; i < filters.length; i++) {
      const f = filters[i]!;
      const sink = f.sink;
      if (sink.seen === stamp) continue;
      if (f.sourcePort !== 0 && f.sourcePort !== sourcePort) continue;
      if ((s0 & f.sm0) !== f.s0 || (d0 & f.dm0) !== f.d0) continue;
      if ((s1 & f.sm1) !== f.s1 || (s2 & f.sm2) !== f.s2 || (s3 & f.sm3) !== f.s3) continue;
      if ((d1 & f.dm1) !== f.d1 || (d2 & f.dm2) !== f.d2 || (d3 & f.dm3) !== f.d3) continue;
      sink.seen = stamp;
      if (
        sink.accepting &&
        sink.offer(this.data, this.start, this.captured, this.origLen, this.etherType, this.seconds, this.nanos)
      ) {
        this.wait = true;
      }
    }
  }

  /** A packet the datapath already matched to rule `ruleID`: no filters, straight to that recording if it runs. */
  private recorderCapture(event: MonitorEvent, data: Uint8Array): boolean {
    if (data.length < RECORDER_CAPTURE_LEN) return false;
    const sink = this.byRuleId.get(data[2]! | (data[3]! << 8));
    if (sink === undefined || !sink.accepting) return false;
    const rest = data.length - RECORDER_CAPTURE_LEN;
    const capLen = uint32LeAt(data, 16);
    // The perf ring may append bytes past the capture; the capture length says where the packet ends.
    const captured = capLen < rest ? capLen : rest;
    if (captured <= 0) return false;
    return sink.offer(
      data,
      RECORDER_CAPTURE_LEN,
      captured,
      uint32LeAt(data, 20),
      -1,
      event.timestamp.seconds,
      event.timestamp.nanos,
    );
  }
}

const EMPTY = new Uint8Array(0);

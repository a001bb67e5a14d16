// What the L3/L4 parser found for one event, and its two ways out: a flow.Flow object (for tests, hooks and every
// caller that wants one) or flow.Flow's encoding written straight into the ring's buffer, with no Flow, UUID string or
// sub-object made for it. Both read the same record, so they cannot disagree; a property test holds them to it.
import {
  FlowType,
  type Emitter,
  type Endpoint,
  type Ethernet,
  type Flow,
  type IP,
  type Layer4,
  type NetworkInterface,
  type Service,
  type Tunnel,
  type CiliumEventType,
} from '../../api/flow/flow.js';
import type { Timestamp } from '../../monitor/types.js';
import { encodedBody, type ProtoWriter } from '../../protowire/compiledEncoder.js';
import { randomUuid, UUID_BYTES, UUID_TEXT_LENGTH, UUID_WORDS, uuidText, writeUuidText } from './flowUuid.js';

/** is_reply: not known (no field), false or true. */
export const REPLY_UNKNOWN = 0;
export const REPLY_FALSE = 1;
export const REPLY_TRUE = 2;

const EMPTY_STRINGS: string[] = Object.freeze([]) as unknown as string[];
const EMPTY_POLICIES: never[] = Object.freeze([]) as unknown as never[];

/** The fields of one L3/L4 flow; reused from event to event (one shape, no allocation). */
export class L34Record {
  time: Timestamp = { seconds: 0, nanos: 0 };
  /** The flow's UUID: 16 random bytes (randomUuid); its text is written when the flow is. */
  readonly uuid = new Uint8Array(UUID_BYTES);
  /** The same 16 bytes as four words, for copying. */
  readonly uuidWords = new Uint32Array(this.uuid.buffer);
  verdict = 0;
  dropReason = 0;
  authType = 0;
  ethernet: Ethernet | undefined = undefined;
  ip: IP | undefined = undefined;
  l4: Layer4 | undefined = undefined;
  tunnel: Tunnel | undefined = undefined;
  source: Endpoint | undefined = undefined;
  destination: Endpoint | undefined = undefined;
  nodeName = '';
  sourceNames: string[] = EMPTY_STRINGS;
  destinationNames: string[] = EMPTY_STRINGS;
  eventType: CiliumEventType | undefined = undefined;
  sourceService: Service | undefined = undefined;
  destinationService: Service | undefined = undefined;
  trafficDirection = 0;
  policyMatchType = 0;
  traceObservationPoint = 0;
  traceReason = 0;
  hasFile = false;
  fileName = '';
  fileLine = 0;
  ipTraceId = 0;
  ipTraceOptionType = 0;
  isReply = REPLY_UNKNOWN;
  debugCapturePoint = 0;
  iface: NetworkInterface | undefined = undefined;
  proxyPort = 0;
  summary = '';
}

/**
 * Records kept column by column, one slot per ring entry: numbers in typed arrays, the UUID's bytes in one array,
 * references to the shared parts (Ethernet, IP, Layer4, endpoints, ... and interned strings) in plain arrays. Storing a
 * flow copies fields and allocates nothing; a full ring of 65535 flows is a few megabytes the garbage collector
 * scans as a few dozen arrays, not a quarter of a million objects it must copy.
 */
export class L34Columns {
  private readonly seconds: Float64Array;
  private readonly nanos: Int32Array;
  private readonly uuids: Uint8Array;
  /** The same bytes as words, four per slot. */
  private readonly uuidWords: Uint32Array;
  private readonly verdict: Uint8Array;
  private readonly dropReason: Uint32Array;
  private readonly authType: Uint8Array;
  private readonly trafficDirection: Uint8Array;
  private readonly policyMatchType: Uint8Array;
  private readonly traceObservationPoint: Uint8Array;
  private readonly traceReason: Uint8Array;
  private readonly isReply: Uint8Array;
  private readonly debugCapturePoint: Uint8Array;
  private readonly proxyPort: Uint32Array;
  private readonly fileLine: Uint32Array;
  private readonly hasFile: Uint8Array;
  private readonly ipTraceId: Float64Array;
  private readonly ipTraceOptionType: Uint32Array;
  private readonly ethernet: (Ethernet | undefined)[];
  private readonly ip: (IP | undefined)[];
  private readonly l4: (Layer4 | undefined)[];
  private readonly tunnel: (Tunnel | undefined)[];
  private readonly source: (Endpoint | undefined)[];
  private readonly destination: (Endpoint | undefined)[];
  private readonly nodeName: string[];
  private readonly sourceNames: string[][];
  private readonly destinationNames: string[][];
  private readonly eventType: (CiliumEventType | undefined)[];
  private readonly sourceService: (Service | undefined)[];
  private readonly destinationService: (Service | undefined)[];
  private readonly fileName: string[];
  private readonly iface: (NetworkInterface | undefined)[];
  private readonly summary: string[];

  constructor(slots: number) {
    this.seconds = new Float64Array(slots);
    this.nanos = new Int32Array(slots);
    this.uuids = new Uint8Array(slots * UUID_BYTES);
    this.uuidWords = new Uint32Array(this.uuids.buffer);
    this.verdict = new Uint8Array(slots);
    this.dropReason = new Uint32Array(slots);
    this.authType = new Uint8Array(slots);
    this.trafficDirection = new Uint8Array(slots);
    this.policyMatchType = new Uint8Array(slots);
    this.traceObservationPoint = new Uint8Array(slots);
    this.traceReason = new Uint8Array(slots);
    this.isReply = new Uint8Array(slots);
    this.debugCapturePoint = new Uint8Array(slots);
    this.proxyPort = new Uint32Array(slots);
    this.fileLine = new Uint32Array(slots);
    this.hasFile = new Uint8Array(slots);
    this.ipTraceId = new Float64Array(slots);
    this.ipTraceOptionType = new Uint32Array(slots);
    const refs = <T>(empty: T): T[] => new Array<T>(slots).fill(empty);
    this.ethernet = refs<Ethernet | undefined>(undefined);
    this.ip = refs<IP | undefined>(undefined);
    this.l4 = refs<Layer4 | undefined>(undefined);
    this.tunnel = refs<Tunnel | undefined>(undefined);
    this.source = refs<Endpoint | undefined>(undefined);
    this.destination = refs<Endpoint | undefined>(undefined);
    this.nodeName = refs('');
    this.sourceNames = refs(EMPTY_STRINGS);
    this.destinationNames = refs(EMPTY_STRINGS);
    this.eventType = refs<CiliumEventType | undefined>(undefined);
    this.sourceService = refs<Service | undefined>(undefined);
    this.destinationService = refs<Service | undefined>(undefined);
    this.fileName = refs('');
    this.iface = refs<NetworkInterface | undefined>(undefined);
    this.summary = refs('');
  }

  store(slot: number, r: L34Record): void {
    this.seconds[slot] = r.time.seconds;
    this.nanos[slot] = r.time.nanos;
    const words = this.uuidWords;
    const uuid = r.uuidWords;
    const at = slot * UUID_WORDS;
    words[at] = uuid[0]!;
    words[at + 1] = uuid[1]!;
    words[at + 2] = uuid[2]!;
    words[at + 3] = uuid[3]!;
    this.verdict[slot] = r.verdict;
    this.dropReason[slot] = r.dropReason;
    this.authType[slot] = r.authType;
    this.trafficDirection[slot] = r.trafficDirection;
    this.policyMatchType[slot] = r.policyMatchType;
    this.traceObservationPoint[slot] = r.traceObservationPoint;
    this.traceReason[slot] = r.traceReason;
    this.isReply[slot] = r.isReply;
    this.debugCapturePoint[slot] = r.debugCapturePoint;
    this.proxyPort[slot] = r.proxyPort;
    this.fileLine[slot] = r.fileLine;
    this.hasFile[slot] = r.hasFile ? 1 : 0;
    this.ipTraceId[slot] = r.ipTraceId;
    this.ipTraceOptionType[slot] = r.ipTraceOptionType;
    this.ethernet[slot] = r.ethernet;
    this.ip[slot] = r.ip;
    this.l4[slot] = r.l4;
    this.tunnel[slot] = r.tunnel;
    this.source[slot] = r.source;
    this.destination[slot] = r.destination;
    this.nodeName[slot] = r.nodeName;
    this.sourceNames[slot] = r.sourceNames;
    this.destinationNames[slot] = r.destinationNames;
    this.eventType[slot] = r.eventType;
    this.sourceService[slot] = r.sourceService;
    this.destinationService[slot] = r.destinationService;
    this.fileName[slot] = r.fileName;
    this.iface[slot] = r.iface;
    this.summary[slot] = r.summary;
  }

  /**
   * Copies into slot `to` what an L7 flow takes from its packet's record in slot `from` (time, addresses, ports,
   * endpoints, names, services, node, direction: l7FlowOf() sets every other field), with the L7 flow's own `uuid`
   * (16 bytes), or a new random one.
   */
  copyForL7(from: number, to: number, uuid?: Uint8Array): void {
    this.seconds[to] = this.seconds[from]!;
    this.nanos[to] = this.nanos[from]!;
    if (uuid === undefined) randomUuid(this.uuidWords, to * UUID_WORDS);
    else this.uuids.set(uuid, to * UUID_BYTES);
    this.trafficDirection[to] = this.trafficDirection[from]!;
    this.ip[to] = this.ip[from];
    this.l4[to] = this.l4[from];
    this.source[to] = this.source[from];
    this.destination[to] = this.destination[from];
    this.nodeName[to] = this.nodeName[from]!;
    this.sourceNames[to] = this.sourceNames[from]!;
    this.destinationNames[to] = this.destinationNames[from]!;
    this.sourceService[to] = this.sourceService[from];
    this.destinationService[to] = this.destinationService[from];
    // Not read for an L7 flow: let go of what the slot held before.
    this.ethernet[to] = undefined;
    this.tunnel[to] = undefined;
    this.eventType[to] = undefined;
    this.iface[to] = undefined;
  }

  /** Forgets a slot's references, so a slot holding another kind of event keeps no shared part alive. */
  clear(slot: number): void {
    this.ethernet[slot] = undefined;
    this.ip[slot] = undefined;
    this.l4[slot] = undefined;
    this.tunnel[slot] = undefined;
    this.source[slot] = undefined;
    this.destination[slot] = undefined;
    this.sourceNames[slot] = EMPTY_STRINGS;
    this.destinationNames[slot] = EMPTY_STRINGS;
    this.eventType[slot] = undefined;
    this.sourceService[slot] = undefined;
    this.destinationService[slot] = undefined;
    this.iface[slot] = undefined;
  }

  /** Fills `r` from a slot (a new time object: records handed out keep theirs). */
  load(slot: number, r: L34Record): L34Record {
    r.time = { seconds: this.seconds[slot]!, nanos: this.nanos[slot]! };
    const at = slot * UUID_BYTES;
    for (let i = 0; i < UUID_BYTES; i++) r.uuid[i] = this.uuids[at + i]!;
    r.verdict = this.verdict[slot]!;
    r.dropReason = this.dropReason[slot]!;
    r.authType = this.authType[slot]!;
    r.trafficDirection = this.trafficDirection[slot]!;
    r.policyMatchType = this.policyMatchType[slot]!;
    r.traceObservationPoint = this.traceObservationPoint[slot]!;
    r.traceReason = this.traceReason[slot]!;
    r.isReply = this.isReply[slot]!;
    r.debugCapturePoint = this.debugCapturePoint[slot]!;
    r.proxyPort = this.proxyPort[slot]!;
    r.fileLine = this.fileLine[slot]!;
    r.hasFile = this.hasFile[slot] === 1;
    r.ipTraceId = this.ipTraceId[slot]!;
    r.ipTraceOptionType = this.ipTraceOptionType[slot]!;
    r.ethernet = this.ethernet[slot];
    r.ip = this.ip[slot];
    r.l4 = this.l4[slot];
    r.tunnel = this.tunnel[slot];
    r.source = this.source[slot];
    r.destination = this.destination[slot];
    r.nodeName = this.nodeName[slot]!;
    r.sourceNames = this.sourceNames[slot]!;
    r.destinationNames = this.destinationNames[slot]!;
    r.eventType = this.eventType[slot];
    r.sourceService = this.sourceService[slot];
    r.destinationService = this.destinationService[slot];
    r.fileName = this.fileName[slot]!;
    r.iface = this.iface[slot];
    r.summary = this.summary[slot]!;
    return r;
  }
}

/** The record as a flow.Flow object literal, every field in Flow's declaration order (one hidden class). */
export function toFlow(r: L34Record): Flow {
  const isReply = r.isReply === REPLY_UNKNOWN ? undefined : r.isReply === REPLY_TRUE;
  return {
    time: r.time,
    uuid: uuidText(r.uuid, 0),
    emitter: undefined,
    verdict: r.verdict,
    dropReason: r.dropReason,
    authType: r.authType,
    ethernet: r.ethernet,
    IP: r.ip,
    l4: r.l4,
    tunnel: r.tunnel,
    source: r.source,
    destination: r.destination,
    Type: FlowType.L3_L4,
    nodeName: r.nodeName,
    nodeLabels: EMPTY_STRINGS,
    sourceNames: r.sourceNames,
    destinationNames: r.destinationNames,
    l7: undefined,
    reply: isReply === true,
    eventType: r.eventType,
    sourceService: r.sourceService,
    destinationService: r.destinationService,
    trafficDirection: r.trafficDirection,
    policyMatchType: r.policyMatchType,
    traceObservationPoint: r.traceObservationPoint,
    traceReason: r.traceReason,
    file: r.hasFile ? { name: r.fileName, line: r.fileLine } : undefined,
    ipTraceId: r.ipTraceId !== 0 ? { traceId: r.ipTraceId, ipOptionType: r.ipTraceOptionType } : undefined,
    dropReasonDesc: r.dropReason,
    isReply,
    debugCapturePoint: r.debugCapturePoint,
    interface: r.iface,
    proxyPort: r.proxyPort,
    traceContext: undefined,
    sockXlatePoint: 0,
    socketCookie: 0,
    cgroupId: 0,
    Summary: r.summary,
    extensions: undefined,
    egressAllowedBy: EMPTY_POLICIES,
    ingressAllowedBy: EMPTY_POLICIES,
    egressDeniedBy: EMPTY_POLICIES,
    ingressDeniedBy: EMPTY_POLICIES,
    policyLog: EMPTY_STRINGS,
    aggregate: undefined,
  };
}

// flow.Flow's field tags (flow.proto): field number << 3 | wire type, as varint bytes.
const VARINT = 0;
const BYTES = 2;

/** The bytes of one tag; tags here are 1 to 3 bytes. */
function tag(field: number, wire: number): number[] {
  const out: number[] = [];
  let v = (field << 3) | wire;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

const [T_TIME] = tag(1, BYTES) as [number];
const [T_VERDICT] = tag(2, VARINT) as [number];
const [T_DROP_REASON] = tag(3, VARINT) as [number];
const [T_ETHERNET] = tag(4, BYTES) as [number];
const [T_IP] = tag(5, BYTES) as [number];
const [T_L4] = tag(6, BYTES) as [number];
const [T_SOURCE] = tag(8, BYTES) as [number];
const [T_DESTINATION] = tag(9, BYTES) as [number];
const [T_TYPE] = tag(10, VARINT) as [number];
const [T_NODE_NAME] = tag(11, BYTES) as [number];
const [T_SOURCE_NAMES] = tag(13, BYTES) as [number];
const [T_DESTINATION_NAMES] = tag(14, BYTES) as [number];
const T_REPLY = tag(16, VARINT) as [number, number];
const T_EVENT_TYPE = tag(19, BYTES) as [number, number];
const T_SOURCE_SERVICE = tag(20, BYTES) as [number, number];
const T_DESTINATION_SERVICE = tag(21, BYTES) as [number, number];
const T_TRAFFIC_DIRECTION = tag(22, VARINT) as [number, number];
const T_POLICY_MATCH_TYPE = tag(23, VARINT) as [number, number];
const T_TRACE_OBSERVATION_POINT = tag(24, VARINT) as [number, number];
const T_DROP_REASON_DESC = tag(25, VARINT) as [number, number];
const T_IS_REPLY = tag(26, BYTES) as [number, number];
const T_DEBUG_CAPTURE_POINT = tag(27, VARINT) as [number, number];
const T_INTERFACE = tag(28, BYTES) as [number, number];
const T_PROXY_PORT = tag(29, VARINT) as [number, number];
const T_UUID = tag(34, BYTES) as [number, number];
const T_AUTH_TYPE = tag(35, VARINT) as [number, number];
const T_TRACE_REASON = tag(36, VARINT) as [number, number];
const T_FILE = tag(38, BYTES) as [number, number];
const T_TUNNEL = tag(39, BYTES) as [number, number];
const T_IP_TRACE_ID = tag(40, BYTES) as [number, number];
const T_EMITTER = tag(41, BYTES) as [number, number];
const T_SUMMARY = tag(100000, BYTES) as [number, number, number];

/** Room for everything but the variable parts: tags, varints, lengths, the UUID, time, the small messages. */
const FIXED_BOUND = 512;

/** Writes varint `v` (0 <= v < 2^32) into `b` at `p`; returns the position after it. */
function varint(b: Uint8Array, p: number, v: number): number {
  while (v > 0x7f) {
    b[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[p++] = v;
  return p;
}

/** Copies `src` into `b` at `p`; returns the position after it. */
function copy(b: Uint8Array, p: number, src: Uint8Array): number {
  const n = src.length;
  // TypedArray.set costs more to call than a short loop costs to run; the parts of a flow are mostly short.
  if (n > 64) {
    b.set(src, p);
    return p + n;
  }
  for (let i = 0; i < n; i++) b[p + i] = src[i]!;
  return p + n;
}

/** A length-prefixed body. */
function delimited(b: Uint8Array, p: number, body: Uint8Array): number {
  return copy(b, varint(b, p, body.length), body);
}

/** Most bytes a string can take as a length-prefixed UTF-8 field value. */
function stringBound(s: string): number {
  return 5 + 3 * s.length;
}

/** A length-prefixed string: ASCII as it is, anything else through the TextEncoder. */
function string(b: Uint8Array, p: number, s: string): number {
  const n = s.length;
  if (n < 0x80) {
    let q = p + 1;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) return delimited(b, p, utf8.encode(s));
      b[q++] = c;
    }
    b[p] = n;
    return q;
  }
  return delimited(b, p, utf8.encode(s));
}

const utf8 = new TextEncoder();

/**
 * Writes the record as flow.Flow's encoding (its fields, in number order; no tag or length of its own): what
 * toFlow(r) with `emitter` set encodes to. One pass into the buffer after one check for room: this runs per packet.
 */
export function writeFlow(r: L34Record, emitter: Emitter, w: ProtoWriter): void {
  const ethernet = r.ethernet === undefined ? undefined : encodedBody(r.ethernet, 'flow.Ethernet');
  const ip = r.ip === undefined ? undefined : encodedBody(r.ip, 'flow.IP');
  const l4 = r.l4 === undefined ? undefined : encodedBody(r.l4, 'flow.Layer4');
  const source = r.source === undefined ? undefined : encodedBody(r.source, 'flow.Endpoint');
  const destination = r.destination === undefined ? undefined : encodedBody(r.destination, 'flow.Endpoint');
  const eventType = r.eventType === undefined ? undefined : encodedBody(r.eventType, 'flow.CiliumEventType');
  const iface = r.iface === undefined ? undefined : encodedBody(r.iface, 'flow.NetworkInterface');
  const emitterBody = encodedBody(emitter, 'flow.Emitter');
  let bound = FIXED_BOUND + stringBound(r.nodeName) + stringBound(r.summary) + emitterBody.length;
  if (ethernet !== undefined) bound += ethernet.length;
  if (ip !== undefined) bound += ip.length;
  if (l4 !== undefined) bound += l4.length;
  if (source !== undefined) bound += source.length;
  if (destination !== undefined) bound += destination.length;
  if (eventType !== undefined) bound += eventType.length;
  if (iface !== undefined) bound += iface.length;
  // Indexed loops here: names are often the shared frozen empty array, and for-of over a frozen array is not
  // optimized (an iterator and its results allocated each time: ~350 bytes a flow written, in Node 20).
  const sourceNames = r.sourceNames;
  const destinationNames = r.destinationNames;
  for (let i = 0; i < sourceNames.length; i++) bound += 3 + stringBound(sourceNames[i]!);
  for (let i = 0; i < destinationNames.length; i++) bound += 3 + stringBound(destinationNames[i]!);
  // Rare parts: sized as they are encoded.
  const sourceService = r.sourceService === undefined ? undefined : encodedBody(r.sourceService, 'flow.Service');
  const destinationService =
    r.destinationService === undefined ? undefined : encodedBody(r.destinationService, 'flow.Service');
  const tunnel = r.tunnel === undefined ? undefined : encodedBody(r.tunnel, 'flow.Tunnel');
  if (sourceService !== undefined) bound += sourceService.length;
  if (destinationService !== undefined) bound += destinationService.length;
  if (tunnel !== undefined) bound += tunnel.length;
  if (r.hasFile) bound += stringBound(r.fileName);
  w.ensure(bound);
  const b = w.buf;
  let p = w.pos;

  // 1 time: Timestamp { seconds = 1, nanos = 2 }, under 128 bytes: its length byte is filled in after.
  b[p++] = T_TIME;
  const timeAt = p++;
  const { seconds, nanos } = r.time;
  if (seconds !== 0) {
    b[p++] = 0x08;
    if (seconds > 0 && seconds <= 0xffff_ffff) p = varint(b, p, seconds);
    else {
      w.pos = p;
      w.uint64(seconds);
      p = w.pos;
    }
  }
  if (nanos !== 0) {
    b[p++] = 0x10;
    p = varint(b, p, nanos >>> 0);
  }
  b[timeAt] = p - timeAt - 1;
  if (r.verdict !== 0) {
    b[p++] = T_VERDICT;
    p = varint(b, p, r.verdict);
  }
  if (r.dropReason !== 0) {
    b[p++] = T_DROP_REASON;
    p = varint(b, p, r.dropReason);
  }
  if (ethernet !== undefined) {
    b[p++] = T_ETHERNET;
    p = delimited(b, p, ethernet);
  }
  if (ip !== undefined) {
    b[p++] = T_IP;
    p = delimited(b, p, ip);
  }
  if (l4 !== undefined) {
    b[p++] = T_L4;
    p = delimited(b, p, l4);
  }
  if (source !== undefined) {
    b[p++] = T_SOURCE;
    p = delimited(b, p, source);
  }
  if (destination !== undefined) {
    b[p++] = T_DESTINATION;
    p = delimited(b, p, destination);
  }
  b[p++] = T_TYPE;
  b[p++] = FlowType.L3_L4;
  if (r.nodeName !== '') {
    b[p++] = T_NODE_NAME;
    p = string(b, p, r.nodeName);
  }
  for (let i = 0; i < sourceNames.length; i++) {
    b[p++] = T_SOURCE_NAMES;
    p = string(b, p, sourceNames[i]!);
  }
  for (let i = 0; i < destinationNames.length; i++) {
    b[p++] = T_DESTINATION_NAMES;
    p = string(b, p, destinationNames[i]!);
  }
  if (r.isReply === REPLY_TRUE) {
    b[p++] = T_REPLY[0];
    b[p++] = T_REPLY[1];
    b[p++] = 1;
  }
  if (eventType !== undefined) {
    b[p++] = T_EVENT_TYPE[0];
    b[p++] = T_EVENT_TYPE[1];
    p = delimited(b, p, eventType);
  }
  if (sourceService !== undefined) {
    b[p++] = T_SOURCE_SERVICE[0];
    b[p++] = T_SOURCE_SERVICE[1];
    p = delimited(b, p, sourceService);
  }
  if (destinationService !== undefined) {
    b[p++] = T_DESTINATION_SERVICE[0];
    b[p++] = T_DESTINATION_SERVICE[1];
    p = delimited(b, p, destinationService);
  }
  if (r.trafficDirection !== 0) {
    b[p++] = T_TRAFFIC_DIRECTION[0];
    b[p++] = T_TRAFFIC_DIRECTION[1];
    p = varint(b, p, r.trafficDirection);
  }
  if (r.policyMatchType !== 0) {
    b[p++] = T_POLICY_MATCH_TYPE[0];
    b[p++] = T_POLICY_MATCH_TYPE[1];
    p = varint(b, p, r.policyMatchType);
  }
  if (r.traceObservationPoint !== 0) {
    b[p++] = T_TRACE_OBSERVATION_POINT[0];
    b[p++] = T_TRACE_OBSERVATION_POINT[1];
    p = varint(b, p, r.traceObservationPoint);
  }
  if (r.dropReason !== 0) {
    b[p++] = T_DROP_REASON_DESC[0];
    b[p++] = T_DROP_REASON_DESC[1];
    p = varint(b, p, r.dropReason);
  }
  if (r.isReply !== REPLY_UNKNOWN) {
    // google.protobuf.BoolValue: empty for false, field 1 = 1 for true.
    b[p++] = T_IS_REPLY[0];
    b[p++] = T_IS_REPLY[1];
    if (r.isReply === REPLY_TRUE) {
      b[p++] = 2;
      b[p++] = 0x08;
      b[p++] = 1;
    } else {
      b[p++] = 0;
    }
  }
  if (r.debugCapturePoint !== 0) {
    b[p++] = T_DEBUG_CAPTURE_POINT[0];
    b[p++] = T_DEBUG_CAPTURE_POINT[1];
    p = varint(b, p, r.debugCapturePoint);
  }
  if (iface !== undefined) {
    b[p++] = T_INTERFACE[0];
    b[p++] = T_INTERFACE[1];
    p = delimited(b, p, iface);
  }
  if (r.proxyPort !== 0) {
    b[p++] = T_PROXY_PORT[0];
    b[p++] = T_PROXY_PORT[1];
    p = varint(b, p, r.proxyPort);
  }
  b[p++] = T_UUID[0];
  b[p++] = T_UUID[1];
  b[p++] = UUID_TEXT_LENGTH;
  p = writeUuidText(b, p, r.uuid, 0);
  if (r.authType !== 0) {
    b[p++] = T_AUTH_TYPE[0];
    b[p++] = T_AUTH_TYPE[1];
    p = varint(b, p, r.authType);
  }
  if (r.traceReason !== 0) {
    b[p++] = T_TRACE_REASON[0];
    b[p++] = T_TRACE_REASON[1];
    p = varint(b, p, r.traceReason);
  }
  if (r.hasFile) {
    // FileInfo { name = 1, line = 2 }, short enough for a one-byte length unless the name is long.
    w.pos = p;
    w.byte(T_FILE[0]);
    w.byte(T_FILE[1]);
    const at = w.beginDelimited();
    if (r.fileName !== '') {
      w.byte(0x0a);
      w.string(r.fileName);
    }
    if (r.fileLine !== 0) {
      w.byte(0x10);
      w.uint32(r.fileLine);
    }
    w.endDelimited(at);
    p = w.pos;
  }
  if (tunnel !== undefined) {
    b[p++] = T_TUNNEL[0];
    b[p++] = T_TUNNEL[1];
    p = delimited(b, p, tunnel);
  }
  if (r.ipTraceId !== 0) {
    // IPTraceID { trace_id = 1 (uint64), ip_option_type = 2 }.
    w.pos = p;
    w.byte(T_IP_TRACE_ID[0]);
    w.byte(T_IP_TRACE_ID[1]);
    const at = w.beginDelimited();
    w.byte(0x08);
    w.uint64(r.ipTraceId);
    if (r.ipTraceOptionType !== 0) {
      w.byte(0x10);
      w.uint32(r.ipTraceOptionType);
    }
    w.endDelimited(at);
    p = w.pos;
  }
  b[p++] = T_EMITTER[0];
  b[p++] = T_EMITTER[1];
  p = delimited(b, p, emitterBody);
  if (r.summary !== '') {
    b[p++] = T_SUMMARY[0];
    b[p++] = T_SUMMARY[1];
    b[p++] = T_SUMMARY[2];
    p = string(b, p, r.summary);
  }
  w.pos = p;
}

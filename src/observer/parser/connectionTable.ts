// A small, bounded connection tracker for packets that come without the datapath's connection-tracking verdict
// (libpcap and pcap-file captures, and datapath traces whose reason is "unknown"), so their flows still say whether
// a packet opened a connection, continued it, or answered it.
//
// Connections are keyed by protocol and the two address/port pairs in canonical order, so both directions of a
// connection find the same entry. The side that opened the connection is its initiator:
//   - TCP: the sender of a SYN without ACK, or the receiver of a SYN-ACK seen first (capture started mid-handshake);
//     otherwise the sender of the first packet seen (capture started mid-connection).
//   - ICMP/ICMPv6 echo: keyed by the echo identifier; requests come from the initiator and replies from the other side,
//     whatever was seen first (so pinging one's own address works too).
//   - UDP, SCTP and everything else: the sender of the first packet seen.
// A packet from the initiator is NEW when it creates the entry and ESTABLISHED afterwards; a packet from the other
// side is REPLY. ICMP errors (unreachable, time exceeded, ...) are RELATED and recorded nowhere. Packets whose ports
// are unknown (later fragments, truncated headers) and non-IP frames are not tracked.
//
// Memory is fixed at construction: `capacity` slots in typed arrays, no per-packet allocation. Entries expire after a
// TTL measured in capture time (so replaying an old pcap file behaves like the live capture did): Cilium's defaults,
// 6 h for established TCP, 60 s for handshakes and non-TCP, 10 s after FIN/RST. A key may only live in a window of
// WAYS consecutive slots; when all of them hold live entries, the one closest to expiry (then the least recently
// touched) is evicted. So the table never grows, and a flood of new tuples only pushes out other entries.

import { Layer, type PacketHeaders } from '../../packet/frame.js';
import { Icmpv4Type, Icmpv6Type, IpProtocol, TcpFlag } from '../../packet/protocols.js';
import { uint32At } from '../../packet/format.js';

/** What the table says about a packet; NEW..RELATED have the numbers of flow.TraceReason. */
export const ConnectionVerdict = {
  /** Not a packet this table tracks (no IP, or ports unknown). */
  UNTRACKED: 0,
  NEW: 1,
  ESTABLISHED: 2,
  REPLY: 3,
  RELATED: 4,
} as const;
export type ConnectionVerdict = (typeof ConnectionVerdict)[keyof typeof ConnectionVerdict];

export interface ConnectionTableOptions {
  /** Slots (a power of two from WAYS to 2^22, rounded up); the table never holds more connections. Default 65536 (4 MiB). */
  capacity?: number;
  /** Established TCP connections, seconds. Default 21600. */
  tcpTtlSeconds?: number;
  /** TCP connections that have only exchanged SYNs, seconds. Default 60. */
  tcpHandshakeTtlSeconds?: number;
  /** TCP connections after FIN or RST, seconds. Default 10. */
  tcpClosingTtlSeconds?: number;
  /** UDP, ICMP and everything else, seconds. Default 60. */
  otherTtlSeconds?: number;
}

/** Slots one key may occupy; bounds every lookup to this many comparisons. */
const WAYS = 8;
/** Words per key: version/protocol, address A (4), address B (4), ports. */
const KEY_WORDS = 10;
/**
 * Each slot is one 64-byte record, so a lookup touches one cache line per slot probed: words 0-9 the key, word 10 the
 * state bits, then (as float64 at word 12) the expiry time and (at word 14) when it was last touched.
 */
const SLOT_WORDS = 16;
const STATE_WORD = 10;
const EXPIRES_F64 = 6;
const TOUCHED_F64 = 7;
const SLOT_F64 = SLOT_WORDS / 2;
/** 2^22 slots (256 MiB) at most, whatever is asked. */
const MAX_CAPACITY = 1 << 22;

const USED = 1;
const INITIATOR_IS_A = 2;
const CLOSING = 4;
/** The initiator's packets leave this host (as the capture last said of one, or inferred from a reply). */
const OPENED_HERE = 8;

export class ConnectionTable {
  readonly capacity: number;
  private readonly mask: number;
  private readonly slots: Uint32Array;
  /** The same memory as float64s, for expiry and touch times. */
  private readonly times: Float64Array;
  /** Packets observed so far: the "touched" time that breaks expiry ties in favour of recent entries. */
  private clock = 0;
  private readonly scratch = new Uint32Array(KEY_WORDS);
  private readonly seed: number;
  /** The scratch key's window, computed by find() for claimSlot(). */
  private window = 0;
  private readonly tcpTtl: number;
  private readonly tcpHandshakeTtl: number;
  private readonly tcpClosingTtl: number;
  private readonly otherTtl: number;
  private used = 0;
  /**
   * After observe(): whether the packet's connection was opened from this host, i.e. its initiator's packets leave
   * it. Taken from the initiator's packets as the capture saw them; until one is seen, from a reply's (one arriving
   * means the initiator is here). Where the capture cannot tell leaving from arriving (loopback, files without
   * directions) every packet "arrives", and the whole connection reads as accepted rather than split by side.
   */
  openedHere = false;

  constructor(options: ConnectionTableOptions = {}) {
    let capacity = WAYS;
    const wanted = options.capacity ?? 65536;
    while (capacity < wanted && capacity < MAX_CAPACITY) capacity *= 2;
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.slots = new Uint32Array(capacity * SLOT_WORDS);
    this.times = new Float64Array(this.slots.buffer);
    // A per-table seed keeps crafted tuples from aiming at one window across processes.
    this.seed = (Math.random() * 0x100000000) >>> 0;
    this.tcpTtl = options.tcpTtlSeconds ?? 21600;
    this.tcpHandshakeTtl = options.tcpHandshakeTtlSeconds ?? 60;
    this.tcpClosingTtl = options.tcpClosingTtlSeconds ?? 10;
    this.otherTtl = options.otherTtlSeconds ?? 60;
  }

  /** Slots holding an entry (live or expired but not yet reused); never more than capacity. */
  get size(): number {
    return this.used;
  }

  clear(): void {
    this.slots.fill(0);
    this.used = 0;
  }

  /**
   * Classifies one decoded packet seen at `nowSeconds` (capture time), `leaving` this host or arriving, and records
   * it (and openedHere). Returns UNTRACKED for frames the table does not follow.
   */
  observe(h: PacketHeaders, data: Uint8Array, nowSeconds: number, leaving = false): ConnectionVerdict {
    if (h.ipVersion === 0) return ConnectionVerdict.UNTRACKED;
    const protocol = h.ipProtocol;
    let sourcePort = 0;
    let destinationPort = 0;
    // 0: first seen wins; 1: the sender opens (TCP SYN, echo request); 2: the receiver opened (SYN-ACK, echo reply).
    let opener = 0;
    let isTcp = false;
    // Echo messages say themselves which side they come from, which also covers pinging one's own address.
    let isEcho = false;
    switch (protocol) {
      case IpProtocol.TCP:
        if ((h.layers & Layer.TCP) === 0) return ConnectionVerdict.UNTRACKED;
        isTcp = true;
        sourcePort = h.sourcePort;
        destinationPort = h.destinationPort;
        break;
      case IpProtocol.UDP:
      case IpProtocol.SCTP:
        if (!h.hasPorts) return ConnectionVerdict.UNTRACKED;
        sourcePort = h.sourcePort;
        destinationPort = h.destinationPort;
        break;
      case IpProtocol.ICMP:
        if ((h.layers & Layer.ICMPV4) === 0) return ConnectionVerdict.UNTRACKED;
        switch (h.icmpType) {
          case Icmpv4Type.ECHO_REQUEST:
          case Icmpv4Type.ECHO_REPLY:
            isEcho = true;
            opener = h.icmpType === Icmpv4Type.ECHO_REQUEST ? 1 : 2;
            sourcePort = destinationPort = h.icmpId;
            break;
          case Icmpv4Type.DESTINATION_UNREACHABLE:
          case Icmpv4Type.SOURCE_QUENCH:
          case Icmpv4Type.REDIRECT:
          case Icmpv4Type.TIME_EXCEEDED:
          case Icmpv4Type.PARAMETER_PROBLEM:
            return ConnectionVerdict.RELATED;
        }
        break;
      case IpProtocol.ICMPV6:
        if ((h.layers & Layer.ICMPV6) === 0) return ConnectionVerdict.UNTRACKED;
        switch (h.icmpType) {
          case Icmpv6Type.ECHO_REQUEST:
          case Icmpv6Type.ECHO_REPLY:
            isEcho = true;
            opener = h.icmpType === Icmpv6Type.ECHO_REQUEST ? 1 : 2;
            sourcePort = destinationPort = h.icmpId;
            break;
          case Icmpv6Type.DESTINATION_UNREACHABLE:
          case Icmpv6Type.PACKET_TOO_BIG:
          case Icmpv6Type.TIME_EXCEEDED:
          case Icmpv6Type.PARAMETER_PROBLEM:
            return ConnectionVerdict.RELATED;
        }
        break;
      // Anything else (GRE, ESP, IGMP, ...) has no ports: it is keyed by addresses alone.
    }
    const tcpFlags = isTcp ? h.tcpFlags : 0;
    if (isTcp && (tcpFlags & TcpFlag.SYN) !== 0) opener = (tcpFlags & TcpFlag.ACK) !== 0 ? 2 : 1;

    const senderIsA = this.buildKey(h, data, protocol, sourcePort, destinationPort);
    const slot = this.find(nowSeconds);
    const found = slot >= 0;
    const state = found ? this.slots[slot * SLOT_WORDS + STATE_WORD]! : 0;
    let initiatorIsSender = ((state & INITIATOR_IS_A) !== 0) === senderIsA;
    let closing = (state & CLOSING) !== 0;

    let verdict: ConnectionVerdict;
    let target = slot;
    let initiatorIsA: boolean;
    let openedHere: boolean;
    if (found && !(opener === 1 && isTcp && (!initiatorIsSender || closing))) {
      if (isEcho) initiatorIsSender = opener === 1;
      verdict = initiatorIsSender ? ConnectionVerdict.ESTABLISHED : ConnectionVerdict.REPLY;
      initiatorIsA = initiatorIsSender === senderIsA;
      openedHere = (state & OPENED_HERE) !== 0;
    } else {
      // A new entry (or a SYN starting over on a closing or reversed tuple).
      if (!found) target = this.claimSlot(nowSeconds);
      openedHere = !leaving;
      if (opener === 2) {
        verdict = ConnectionVerdict.REPLY;
        initiatorIsA = !senderIsA;
      } else {
        verdict = ConnectionVerdict.NEW;
        initiatorIsA = senderIsA;
      }
      closing = false;
      this.slots.set(this.scratch, target * SLOT_WORDS);
    }

    let ttl = this.otherTtl;
    if (isTcp) {
      if ((tcpFlags & (TcpFlag.FIN | TcpFlag.RST)) !== 0) closing = true;
      ttl = closing ? this.tcpClosingTtl : (tcpFlags & TcpFlag.SYN) !== 0 ? this.tcpHandshakeTtl : this.tcpTtl;
    }
    if (verdict !== ConnectionVerdict.REPLY) openedHere = leaving;
    this.openedHere = openedHere;
    this.slots[target * SLOT_WORDS + STATE_WORD] =
      USED | (initiatorIsA ? INITIATOR_IS_A : 0) | (closing ? CLOSING : 0) | (openedHere ? OPENED_HERE : 0);
    this.times[target * SLOT_F64 + EXPIRES_F64] = nowSeconds + ttl;
    this.times[target * SLOT_F64 + TOUCHED_F64] = ++this.clock;
    return verdict;
  }

  /** Writes the canonical key into scratch; returns whether the sender is side A. */
  private buildKey(
    h: PacketHeaders,
    d: Uint8Array,
    protocol: number,
    sourcePort: number,
    destinationPort: number,
  ): boolean {
    const k = this.scratch;
    const s = h.sourceAddressOffset;
    const r = h.destinationAddressOffset;
    const s0 = uint32At(d, s);
    const r0 = uint32At(d, r);
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let r1 = 0;
    let r2 = 0;
    let r3 = 0;
    if (h.ipVersion === 6) {
      s1 = uint32At(d, s + 4);
      s2 = uint32At(d, s + 8);
      s3 = uint32At(d, s + 12);
      r1 = uint32At(d, r + 4);
      r2 = uint32At(d, r + 8);
      r3 = uint32At(d, r + 12);
    }
    // The lower (address, port) pair goes first, so both directions build the same key.
    const senderIsA =
      s0 !== r0
        ? s0 < r0
        : s1 !== r1
          ? s1 < r1
          : s2 !== r2
            ? s2 < r2
            : s3 !== r3
              ? s3 < r3
              : sourcePort <= destinationPort;
    k[0] = (h.ipVersion << 8) | protocol;
    if (senderIsA) {
      k[1] = s0;
      k[2] = s1;
      k[3] = s2;
      k[4] = s3;
      k[5] = r0;
      k[6] = r1;
      k[7] = r2;
      k[8] = r3;
      k[9] = ((sourcePort << 16) | destinationPort) >>> 0;
    } else {
      k[1] = r0;
      k[2] = r1;
      k[3] = r2;
      k[4] = r3;
      k[5] = s0;
      k[6] = s1;
      k[7] = s2;
      k[8] = s3;
      k[9] = ((destinationPort << 16) | sourcePort) >>> 0;
    }
    return senderIsA;
  }

  private windowStart(): number {
    const k = this.scratch;
    let x = this.seed ^ 0x811c9dc5;
    for (let i = 0; i < KEY_WORDS; i++) x = Math.imul(x ^ k[i]!, 0x01000193);
    x ^= x >>> 16;
    x = Math.imul(x, 0x85ebca6b);
    x ^= x >>> 13;
    return x & this.mask;
  }

  /** The slot holding the scratch key's live entry, or -1. */
  private find(now: number): number {
    const k = this.scratch;
    const slots = this.slots;
    const start = (this.window = this.windowStart());
    for (let i = 0; i < WAYS; i++) {
      const slot = (start + i) & this.mask;
      const base = slot * SLOT_WORDS;
      if ((slots[base + STATE_WORD]! & USED) === 0 || this.times[slot * SLOT_F64 + EXPIRES_F64]! <= now) continue;
      let same = true;
      for (let w = KEY_WORDS - 1; w >= 0; w--) {
        if (slots[base + w] !== k[w]) {
          same = false;
          break;
        }
      }
      if (same) return slot;
    }
    return -1;
  }

  /**
   * A slot for a new entry in the scratch key's window (after find): empty first, then expired, else the one soonest
   * to expire (the least recently touched among equals).
   */
  private claimSlot(now: number): number {
    const start = this.window;
    let victim = start;
    let victimExpiry = Infinity;
    let victimTouched = Infinity;
    for (let i = 0; i < WAYS; i++) {
      const slot = (start + i) & this.mask;
      if ((this.slots[slot * SLOT_WORDS + STATE_WORD]! & USED) === 0) {
        this.used++;
        return slot;
      }
      const expiry = this.times[slot * SLOT_F64 + EXPIRES_F64]!;
      if (expiry <= now) return slot;
      const touched = this.times[slot * SLOT_F64 + TOUCHED_F64]!;
      if (expiry < victimExpiry || (expiry === victimExpiry && touched < victimTouched)) {
        victim = slot;
        victimExpiry = expiry;
        victimTouched = touched;
      }
    }
    return victim;
  }
}

// Shares the Ethernet, IP and Layer4 sub-messages that packets of one conversation have in common: the ring keeps
// tens of thousands of flows alive, and every object per flow is one more the garbage collector must copy.
//
// Each kind has a direct-mapped cache (a fixed array of slots indexed by a hash of the header fields), so a lookup
// is O(1), allocates nothing on a hit, and the cache can never grow: a miss simply replaces the slot. Shared parts
// are frozen, because a flow must never change another flow's headers, and keep their encoding for the ring.

import {
  IPVersion,
  type Ethernet,
  type ICMPv4,
  type ICMPv6,
  type IP,
  type Layer4,
  type SCTP,
  type SCTPChunkType,
  type TCP,
  type TCPFlags,
  type UDP,
} from '../../api/flow/flow.js';
import { sharedMessage } from '../../protowire/compiledEncoder.js';

const SLOT_BITS = 12;
const SLOTS = 1 << SLOT_BITS;

function slotOf(hash: number): number {
  return Math.imul(hash, 0x9e3779b1) >>> (32 - SLOT_BITS);
}

/** A 32-bit mix of `length` bytes at `offset` (addresses: 4, 6 or 16 bytes). */
function bytesHash(data: Uint8Array, offset: number, length: number, seed: number): number {
  let hash = seed;
  for (let i = 0; i < length; i++) hash = Math.imul(hash ^ data[offset + i]!, 0x01000193);
  return hash;
}

export class SharedFlowParts {
  private readonly ethernets = new Array<Ethernet | undefined>(SLOTS).fill(undefined);
  /** Per Ethernet slot: the 12 MAC bytes (destination, source) it was made from. */
  private readonly ethernetKeys = new Uint8Array(SLOTS * 12);
  private readonly ips = new Array<IP | undefined>(SLOTS).fill(undefined);
  private readonly layer4s = new Array<Layer4 | undefined>(SLOTS).fill(undefined);
  /** Per Layer4 slot: kind, then the three numbers that make two Layer4s of that kind equal. */
  private readonly layer4Keys = new Int32Array(SLOTS * 4);

  /**
   * flow.Ethernet for the MAC pair at `linkOffset` (destination first, as on the wire); `format` writes a MAC's text,
   * asked only when the pair is new to its slot (the bytes are compared, not texts).
   */
  ethernet(data: Uint8Array, linkOffset: number, format: (data: Uint8Array, at: number) => string): Ethernet {
    const slot = slotOf(bytesHash(data, linkOffset, 12, 0x811c9dc5));
    const cached = this.ethernets[slot];
    const keys = this.ethernetKeys;
    const k = slot * 12;
    if (cached !== undefined) {
      let same = true;
      for (let i = 0; i < 12; i++) {
        if (keys[k + i] !== data[linkOffset + i]) {
          same = false;
          break;
        }
      }
      if (same) return cached;
    }
    for (let i = 0; i < 12; i++) keys[k + i] = data[linkOffset + i]!;
    const created: Ethernet = sharedMessage('flow.Ethernet', {
      source: format(data, linkOffset + 6),
      destination: format(data, linkOffset),
    });
    this.ethernets[slot] = created;
    return created;
  }

  /** flow.IP for an address pair; the raw addresses at the offsets give the hash, so no string is hashed. */
  ip(
    data: Uint8Array,
    sourceOffset: number,
    destinationOffset: number,
    version: 4 | 6,
    source: string,
    sourceXlated: string,
    destination: string,
    encrypted: boolean,
  ): IP {
    const length = version === 4 ? 4 : 16;
    const seed = encrypted ? 0x2545f491 : 0x811c9dc5;
    const slot = slotOf(bytesHash(data, destinationOffset, length, bytesHash(data, sourceOffset, length, seed)));
    const cached = this.ips[slot];
    if (
      cached !== undefined &&
      cached.source === source &&
      cached.destination === destination &&
      cached.sourceXlated === sourceXlated &&
      cached.encrypted === encrypted
    ) {
      return cached;
    }
    const created: IP = sharedMessage('flow.IP', {
      source,
      sourceXlated,
      destination,
      ipVersion: version === 4 ? IPVersion.IPv4 : IPVersion.IPv6,
      encrypted,
    });
    this.ips[slot] = created;
    return created;
  }

  /** flow.Layer4 holding TCP; `flagBits` identifies the shared `flags` object. */
  tcp(sourcePort: number, destinationPort: number, flagBits: number, flags: TCPFlags): Layer4 {
    const slot = this.layer4Slot(Layer4Kind.TCP, sourcePort, destinationPort, flagBits);
    if (slot < 0) return this.layer4s[~slot]!;
    return this.storeLayer4(
      slot,
      layer4({ sourcePort, destinationPort, flags }, undefined, undefined, undefined, undefined),
    );
  }

  udp(sourcePort: number, destinationPort: number): Layer4 {
    const slot = this.layer4Slot(Layer4Kind.UDP, sourcePort, destinationPort, 0);
    if (slot < 0) return this.layer4s[~slot]!;
    return this.storeLayer4(slot, layer4(undefined, { sourcePort, destinationPort }, undefined, undefined, undefined));
  }

  icmpv4(type: number, code: number): Layer4 {
    const slot = this.layer4Slot(Layer4Kind.ICMPV4, type, code, 0);
    if (slot < 0) return this.layer4s[~slot]!;
    return this.storeLayer4(slot, layer4(undefined, undefined, { type, code }, undefined, undefined));
  }

  icmpv6(type: number, code: number): Layer4 {
    const slot = this.layer4Slot(Layer4Kind.ICMPV6, type, code, 0);
    if (slot < 0) return this.layer4s[~slot]!;
    return this.storeLayer4(slot, layer4(undefined, undefined, undefined, { type, code }, undefined));
  }

  sctp(sourcePort: number, destinationPort: number, chunkType: SCTPChunkType): Layer4 {
    const slot = this.layer4Slot(Layer4Kind.SCTP, sourcePort, destinationPort, chunkType);
    if (slot < 0) return this.layer4s[~slot]!;
    return this.storeLayer4(
      slot,
      layer4(undefined, undefined, undefined, undefined, { sourcePort, destinationPort, chunkType }),
    );
  }

  /** The slot for this key: ~slot (negative) when it already holds an equal Layer4, else the slot to fill. */
  private layer4Slot(kind: number, a: number, b: number, c: number): number {
    const slot = slotOf(Math.imul(Math.imul(Math.imul(kind, 0x85ebca6b) ^ a, 0xc2b2ae35) ^ b, 0x27d4eb2f) ^ c);
    const keys = this.layer4Keys;
    const k = slot * 4;
    if (keys[k] === kind && keys[k + 1] === a && keys[k + 2] === b && keys[k + 3] === c) return ~slot;
    keys[k] = kind;
    keys[k + 1] = a;
    keys[k + 2] = b;
    keys[k + 3] = c;
    return slot;
  }

  private storeLayer4(slot: number, l4: Layer4): Layer4 {
    this.layer4s[slot] = l4;
    return l4;
  }
}

/** Protocol numbers (IANA) tell the Layer4 kinds apart in the cache keys; never 0, which marks an empty slot. */
const Layer4Kind = { ICMPV4: 1, TCP: 6, UDP: 17, ICMPV6: 58, SCTP: 132 } as const;

/** A frozen Layer4 with exactly one member set; every member present, so all Layer4 objects share one shape. */
function layer4(
  tcp: TCP | undefined,
  udp: UDP | undefined,
  icmpv4: ICMPv4 | undefined,
  icmpv6: ICMPv6 | undefined,
  sctp: SCTP | undefined,
): Layer4 {
  const member = tcp ?? udp ?? icmpv4 ?? icmpv6 ?? sctp;
  if (member !== undefined) Object.freeze(member);
  return sharedMessage('flow.Layer4', {
    TCP: tcp,
    UDP: udp,
    ICMPv4: icmpv4,
    ICMPv6: icmpv6,
    SCTP: sctp,
    VRRP: undefined,
    IGMP: undefined,
  });
}

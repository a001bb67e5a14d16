// Decodes one captured frame — Ethernet with 802.1Q/802.1ad tags, ARP, IPv4 (with fragments), IPv6 (with extension
// headers), TCP, UDP, SCTP, ICMPv4, ICMPv6, VRRP, IGMP — into a reusable struct of numbers and offsets.
//
// Built for the per-packet hot path: decoding allocates nothing, never throws, and reads only the bytes it is given.
// Malformed or truncated input is reported, not rejected: `layers` says which headers were read whole, `stop` says
// why decoding ended, `decodedTo` where. Addresses stay in the buffer (offsets here); format.ts turns them into text
// only for whoever needs text. Other consumers (e.g. a recorder's 5-tuple matcher) read the same struct.

import { EtherType, IpProtocol } from './protocols.js';
import { uint16At, uint32At } from './format.js';

/** How the first byte of a frame is to be read. */
export const LinkType = {
  ETHERNET: 0,
  /** No link header; an IPv4 packet. */
  IPV4: 1,
  /** No link header; an IPv6 packet. */
  IPV6: 2,
  /** No link header; the IP version nibble decides. */
  RAW_IP: 3,
} as const;
export type LinkType = (typeof LinkType)[keyof typeof LinkType];

/** Bits of PacketHeaders.layers: headers that were present in full. */
export const Layer = {
  ETHERNET: 0x001,
  /** At least one 802.1Q/802.1ad tag. */
  VLAN: 0x002,
  ARP: 0x004,
  IPV4: 0x008,
  IPV6: 0x010,
  TCP: 0x020,
  UDP: 0x040,
  SCTP: 0x080,
  ICMPV4: 0x100,
  ICMPV6: 0x200,
  VRRP: 0x400,
  IGMP: 0x800,
} as const;

export const NETWORK_LAYERS = Layer.IPV4 | Layer.IPV6;
export const TRANSPORT_LAYERS =
  Layer.TCP | Layer.UDP | Layer.SCTP | Layer.ICMPV4 | Layer.ICMPV6 | Layer.VRRP | Layer.IGMP;

/** Why decoding ended where it did. */
export const DecodeStop = {
  /** Nothing left that this decoder reads: a transport header, or an upper protocol it does not look into. */
  COMPLETE: 0,
  /** The capture ends inside a header. */
  TRUNCATED: 1,
  /** A header field contradicts the rest (IPv4 header length < 20, an impossible VRRP count, ...). */
  MALFORMED: 2,
  /** A later IP fragment: its transport header travels in the first fragment. */
  FRAGMENT: 3,
  /** ESP or "no next header": what follows is not readable. */
  OPAQUE: 4,
  /** A link or network protocol this decoder does not know (802.3 LLC, MPLS, too many VLAN tags, ...). */
  UNSUPPORTED: 5,
} as const;
export type DecodeStop = (typeof DecodeStop)[keyof typeof DecodeStop];

/** Tags beyond this many are not followed: real networks use two at most, hostile frames may chain thousands. */
const MAX_VLAN_TAGS = 8;
/** IPv6 extension headers followed before giving up (each is at least 8 bytes, so the packet bounds it too). */
const MAX_EXTENSION_HEADERS = 16;

/**
 * Where each header of one frame is and what it says. Offsets index the buffer given to decodeFrame; -1 means
 * "not present". One instance is meant to be reused for every frame: decodeFrame resets it first.
 */
export class PacketHeaders {
  /** Layer.* bits of the headers read in full. */
  layers = 0;
  stop: DecodeStop = DecodeStop.COMPLETE;
  /** Offset of the first byte decoding did not consume (the start of the header it stopped at, or payload). */
  decodedTo = 0;

  // Ethernet: destination MAC at linkOffset, source MAC at linkOffset + 6.
  linkOffset = -1;
  /** The EtherType after any VLAN tags (0 for frames without a link header). */
  etherType = 0;
  vlanCount = 0;
  /** VLAN id of the first (outer) tag, -1 without tags. */
  vlanOuter = -1;
  /** VLAN id of the second tag (QinQ inner), -1 with fewer than two tags. */
  vlanInner = -1;

  // ARP: addresses are hardwareLength / protocolLength bytes long at their offsets.
  arpOperation = 0;
  arpHardwareType = 0;
  arpProtocolType = 0;
  arpHardwareLength = 0;
  arpProtocolLength = 0;
  arpSenderHardwareOffset = -1;
  arpSenderProtocolOffset = -1;
  arpTargetHardwareOffset = -1;
  arpTargetProtocolOffset = -1;

  // IP
  /** 4, 6, or 0 when no IP header was read. */
  ipVersion = 0;
  networkOffset = -1;
  /** Length of the fixed IP header (IPv4 with options; 40 for IPv6, extension headers excluded). */
  networkHeaderLength = 0;
  /** End of the IP packet in the buffer: the length fields' end, cut to what was captured (Ethernet padding excluded). */
  networkEnd = 0;
  /** Whether the IP length fields promise more bytes than were captured. */
  networkTruncated = false;
  sourceAddressOffset = -1;
  destinationAddressOffset = -1;
  /** IPv4 TTL or IPv6 hop limit. */
  ttl = 0;
  /** The upper-layer protocol after extension headers (or the header decoding stopped at); -1 without IP. */
  ipProtocol = -1;
  /** IPv4 identification, or the IPv6 fragment header's identification. */
  ipId = 0;
  /** Whether this packet is a fragment (IPv4 MF/offset, or an IPv6 fragment header). */
  isFragment = false;
  /** Fragment offset in bytes. */
  fragmentOffset = 0;
  moreFragments = false;

  // Transport
  transportOffset = -1;
  /** Whether sourcePort/destinationPort hold the first four transport bytes (TCP, UDP, SCTP), even if the rest is cut. */
  hasPorts = false;
  sourcePort = 0;
  destinationPort = 0;
  /** TcpFlag bits. */
  tcpFlags = 0;
  icmpType = 0;
  icmpCode = 0;
  /** Bytes 4-5 of the ICMP header: the identifier of echo messages. */
  icmpId = 0;
  /** Type of the first SCTP chunk, -1 when the packet holds none. */
  sctpChunkType = -1;
  vrrpVersion = 0;
  vrrpType = 0;
  vrrpRouterId = 0;
  vrrpPriority = 0;
  igmpType = 0;
  igmpGroupOffset = -1;
  /** Where the transport payload starts and ends (UDP length and IP length respected); -1 when unknown. */
  payloadOffset = -1;
  payloadEnd = -1;

  reset(): void {
    this.layers = 0;
    this.stop = DecodeStop.COMPLETE;
    this.decodedTo = 0;
    this.linkOffset = -1;
    this.etherType = 0;
    this.vlanCount = 0;
    this.vlanOuter = -1;
    this.vlanInner = -1;
    this.arpOperation = 0;
    this.arpHardwareType = 0;
    this.arpProtocolType = 0;
    this.arpHardwareLength = 0;
    this.arpProtocolLength = 0;
    this.arpSenderHardwareOffset = -1;
    this.arpSenderProtocolOffset = -1;
    this.arpTargetHardwareOffset = -1;
    this.arpTargetProtocolOffset = -1;
    this.ipVersion = 0;
    this.networkOffset = -1;
    this.networkHeaderLength = 0;
    this.networkEnd = 0;
    this.networkTruncated = false;
    this.sourceAddressOffset = -1;
    this.destinationAddressOffset = -1;
    this.ttl = 0;
    this.ipProtocol = -1;
    this.ipId = 0;
    this.isFragment = false;
    this.fragmentOffset = 0;
    this.moreFragments = false;
    this.transportOffset = -1;
    this.hasPorts = false;
    this.sourcePort = 0;
    this.destinationPort = 0;
    this.tcpFlags = 0;
    this.icmpType = 0;
    this.icmpCode = 0;
    this.icmpId = 0;
    this.sctpChunkType = -1;
    this.vrrpVersion = 0;
    this.vrrpType = 0;
    this.vrrpRouterId = 0;
    this.vrrpPriority = 0;
    this.igmpType = 0;
    this.igmpGroupOffset = -1;
    this.payloadOffset = -1;
    this.payloadEnd = -1;
  }

  /** Whether the transport header named by ipProtocol was read in full. */
  get hasTransport(): boolean {
    return (this.layers & TRANSPORT_LAYERS) !== 0;
  }
}

function stopAt(h: PacketHeaders, stop: DecodeStop, offset: number): void {
  h.stop = stop;
  h.decodedTo = offset;
}

/**
 * Decodes the frame in data[start, end) into `h` (reset first). Never throws; see PacketHeaders for how to tell how
 * far it got. `end` is clamped to the buffer.
 */
export function decodeFrame(
  h: PacketHeaders,
  data: Uint8Array,
  linkType: LinkType = LinkType.ETHERNET,
  start = 0,
  end = data.length,
): void {
  h.reset();
  if (end > data.length) end = data.length;
  if (start < 0) start = 0;
  h.decodedTo = start;
  switch (linkType) {
    case LinkType.ETHERNET:
      decodeEthernet(h, data, start, end);
      return;
    case LinkType.IPV4:
      decodeIPv4(h, data, start, end);
      return;
    case LinkType.IPV6:
      decodeIPv6(h, data, start, end);
      return;
    default: {
      if (start >= end) return stopAt(h, DecodeStop.TRUNCATED, start);
      const version = data[start]! >> 4;
      if (version === 4) decodeIPv4(h, data, start, end);
      else if (version === 6) decodeIPv6(h, data, start, end);
      else stopAt(h, DecodeStop.UNSUPPORTED, start);
    }
  }
}

function decodeEthernet(h: PacketHeaders, d: Uint8Array, p: number, end: number): void {
  if (end - p < 14) return stopAt(h, DecodeStop.TRUNCATED, p);
  h.layers |= Layer.ETHERNET;
  h.linkOffset = p;
  let type = uint16At(d, p + 12);
  p += 14;
  let tags = 0;
  while (type === EtherType.VLAN || type === EtherType.QINQ || type === EtherType.QINQ_LEGACY) {
    if (tags === MAX_VLAN_TAGS) {
      h.etherType = type;
      h.vlanCount = tags;
      return stopAt(h, DecodeStop.UNSUPPORTED, p);
    }
    if (end - p < 4) {
      h.etherType = type;
      h.vlanCount = tags;
      return stopAt(h, DecodeStop.TRUNCATED, p);
    }
    const vid = uint16At(d, p) & 0x0fff;
    if (tags === 0) h.vlanOuter = vid;
    else if (tags === 1) h.vlanInner = vid;
    tags++;
    h.layers |= Layer.VLAN;
    type = uint16At(d, p + 2);
    p += 4;
  }
  h.vlanCount = tags;
  h.etherType = type;
  h.decodedTo = p;
  switch (type) {
    case EtherType.IPV4:
      return decodeIPv4(h, d, p, end);
    case EtherType.IPV6:
      return decodeIPv6(h, d, p, end);
    case EtherType.ARP:
      return decodeArp(h, d, p, end);
    default:
      // Includes 802.3 frames, whose "type" is a length (< 0x0600) followed by LLC.
      return stopAt(h, DecodeStop.UNSUPPORTED, p);
  }
}

function decodeArp(h: PacketHeaders, d: Uint8Array, p: number, end: number): void {
  if (end - p < 8) return stopAt(h, DecodeStop.TRUNCATED, p);
  const hardwareLength = d[p + 4]!;
  const protocolLength = d[p + 5]!;
  const length = 8 + 2 * hardwareLength + 2 * protocolLength;
  if (end - p < length) return stopAt(h, DecodeStop.TRUNCATED, p);
  h.layers |= Layer.ARP;
  h.arpHardwareType = uint16At(d, p);
  h.arpProtocolType = uint16At(d, p + 2);
  h.arpHardwareLength = hardwareLength;
  h.arpProtocolLength = protocolLength;
  h.arpOperation = uint16At(d, p + 6);
  h.arpSenderHardwareOffset = p + 8;
  h.arpSenderProtocolOffset = p + 8 + hardwareLength;
  h.arpTargetHardwareOffset = p + 8 + hardwareLength + protocolLength;
  h.arpTargetProtocolOffset = p + 8 + 2 * hardwareLength + protocolLength;
  h.decodedTo = p + length;
}

function decodeIPv4(h: PacketHeaders, d: Uint8Array, p: number, end: number): void {
  if (end - p < 20) return stopAt(h, DecodeStop.TRUNCATED, p);
  const headerLength = (d[p]! & 0x0f) * 4;
  let totalLength = uint16At(d, p + 2);
  // A zero total length is what TCP segmentation offload leaves behind: the packet is whatever was captured.
  if (totalLength === 0) totalLength = end - p;
  if (headerLength < 20 || totalLength < headerLength) return stopAt(h, DecodeStop.MALFORMED, p);
  if (end - p < headerLength) return stopAt(h, DecodeStop.TRUNCATED, p);
  h.layers |= Layer.IPV4;
  h.ipVersion = 4;
  h.networkOffset = p;
  h.networkHeaderLength = headerLength;
  h.networkTruncated = p + totalLength > end;
  h.networkEnd = h.networkTruncated ? end : p + totalLength;
  h.ttl = d[p + 8]!;
  h.ipId = uint16At(d, p + 4);
  h.sourceAddressOffset = p + 12;
  h.destinationAddressOffset = p + 16;
  const flagsAndOffset = uint16At(d, p + 6);
  h.fragmentOffset = (flagsAndOffset & 0x1fff) * 8;
  h.moreFragments = (flagsAndOffset & 0x2000) !== 0;
  h.isFragment = h.moreFragments || h.fragmentOffset !== 0;
  const protocol = d[p + 9]!;
  if (h.fragmentOffset !== 0) {
    h.ipProtocol = protocol;
    return stopAt(h, DecodeStop.FRAGMENT, p + headerLength);
  }
  decodeAfterIP(h, d, p + headerLength, h.networkEnd, protocol);
}

function decodeIPv6(h: PacketHeaders, d: Uint8Array, p: number, end: number): void {
  if (end - p < 40) return stopAt(h, DecodeStop.TRUNCATED, p);
  h.layers |= Layer.IPV6;
  h.ipVersion = 6;
  h.networkOffset = p;
  h.networkHeaderLength = 40;
  const payloadLength = uint16At(d, p + 4);
  // Zero payload length means a jumbogram (or offload): the packet is whatever was captured.
  const claimedEnd = payloadLength === 0 ? end : p + 40 + payloadLength;
  h.networkTruncated = claimedEnd > end;
  h.networkEnd = h.networkTruncated ? end : claimedEnd;
  h.ttl = d[p + 7]!;
  h.sourceAddressOffset = p + 8;
  h.destinationAddressOffset = p + 24;
  decodeAfterIP(h, d, p + 40, h.networkEnd, d[p + 6]!);
}

/** Walks IPv6 extension headers and IPv4/IPv6 AH from `p`, then decodes the transport header. */
function decodeAfterIP(h: PacketHeaders, d: Uint8Array, p: number, end: number, next: number): void {
  for (let i = 0; i <= MAX_EXTENSION_HEADERS; i++) {
    switch (next) {
      case IpProtocol.HOP_BY_HOP:
      case IpProtocol.ROUTING:
      case IpProtocol.DESTINATION_OPTIONS:
      case IpProtocol.MOBILITY:
      case IpProtocol.HIP:
      case IpProtocol.SHIM6: {
        if (h.ipVersion !== 6) return decodeTransport(h, d, p, end, next);
        if (end - p < 2) break;
        const length = (d[p + 1]! + 1) * 8;
        if (end - p < length) break;
        next = d[p]!;
        p += length;
        continue;
      }
      case IpProtocol.FRAGMENT: {
        if (h.ipVersion !== 6) return decodeTransport(h, d, p, end, next);
        if (end - p < 8) break;
        const offsetAndFlags = uint16At(d, p + 2);
        h.isFragment = true;
        h.fragmentOffset = offsetAndFlags & 0xfff8;
        h.moreFragments = (offsetAndFlags & 1) !== 0;
        h.ipId = uint32At(d, p + 4);
        next = d[p]!;
        p += 8;
        if (h.fragmentOffset !== 0) {
          h.ipProtocol = next;
          return stopAt(h, DecodeStop.FRAGMENT, p);
        }
        continue;
      }
      case IpProtocol.AH: {
        if (end - p < 2) break;
        const length = (d[p + 1]! + 2) * 4;
        if (end - p < length) break;
        next = d[p]!;
        p += length;
        continue;
      }
      case IpProtocol.ESP:
      case IpProtocol.NO_NEXT_HEADER:
        h.ipProtocol = next;
        return stopAt(h, DecodeStop.OPAQUE, p);
      default:
        return decodeTransport(h, d, p, end, next);
    }
    // An extension header that does not fit in what was captured.
    h.ipProtocol = next;
    return stopAt(h, DecodeStop.TRUNCATED, p);
  }
  h.ipProtocol = next;
  stopAt(h, DecodeStop.UNSUPPORTED, p);
}

function decodeTransport(h: PacketHeaders, d: Uint8Array, p: number, end: number, protocol: number): void {
  h.ipProtocol = protocol;
  h.transportOffset = p;
  h.decodedTo = p;
  const available = end - p;
  switch (protocol) {
    case IpProtocol.TCP: {
      readPorts(h, d, p, available);
      if (available < 20) return stopAt(h, DecodeStop.TRUNCATED, p);
      h.layers |= Layer.TCP;
      h.tcpFlags = ((d[p + 12]! & 1) << 8) | d[p + 13]!;
      const headerLength = (d[p + 12]! >> 4) * 4;
      if (headerLength < 20) {
        setPayload(h, p + 20, end);
        return stopAt(h, DecodeStop.MALFORMED, p + 20);
      }
      if (headerLength > available) {
        // Options cut off by the capture: the fixed header is still whole.
        setPayload(h, end, end);
        return stopAt(h, DecodeStop.TRUNCATED, end);
      }
      return setPayload(h, p + headerLength, end);
    }
    case IpProtocol.UDP: {
      readPorts(h, d, p, available);
      if (available < 8) return stopAt(h, DecodeStop.TRUNCATED, p);
      h.layers |= Layer.UDP;
      const length = uint16At(d, p + 4);
      return setPayload(h, p + 8, length >= 8 && length <= available ? p + length : end);
    }
    case IpProtocol.SCTP: {
      readPorts(h, d, p, available);
      if (available < 12) return stopAt(h, DecodeStop.TRUNCATED, p);
      h.layers |= Layer.SCTP;
      h.sctpChunkType = available > 12 ? d[p + 12]! : -1;
      return setPayload(h, p + 12, end);
    }
    case IpProtocol.ICMP: {
      if (available < 8) return stopAt(h, DecodeStop.TRUNCATED, p);
      h.layers |= Layer.ICMPV4;
      h.icmpType = d[p]!;
      h.icmpCode = d[p + 1]!;
      h.icmpId = uint16At(d, p + 4);
      return setPayload(h, p + 8, end);
    }
    case IpProtocol.ICMPV6: {
      if (available < 4) return stopAt(h, DecodeStop.TRUNCATED, p);
      h.layers |= Layer.ICMPV6;
      h.icmpType = d[p]!;
      h.icmpCode = d[p + 1]!;
      h.icmpId = available >= 6 ? uint16At(d, p + 4) : 0;
      return setPayload(h, p + 4, end);
    }
    case IpProtocol.VRRP: {
      if (available < 8) return stopAt(h, DecodeStop.TRUNCATED, p);
      // As gopacket (and so Hubble) reads VRRP: only advertisements, with at least one address, all captured.
      const type = d[p]! & 0x0f;
      const count = d[p + 3]!;
      if (type !== 1 || count < 1) return stopAt(h, DecodeStop.MALFORMED, p);
      const addresses = 8 + count * (h.ipVersion === 6 ? 16 : 4);
      if (available < addresses) return stopAt(h, DecodeStop.TRUNCATED, p);
      h.layers |= Layer.VRRP;
      h.vrrpVersion = d[p]! >> 4;
      h.vrrpType = type;
      h.vrrpRouterId = d[p + 1]!;
      h.vrrpPriority = d[p + 2]!;
      return setPayload(h, p + addresses, end);
    }
    case IpProtocol.IGMP: {
      if (available < 8) return stopAt(h, DecodeStop.TRUNCATED, p);
      h.layers |= Layer.IGMP;
      h.igmpType = d[p]!;
      h.igmpGroupOffset = p + 4;
      return setPayload(h, p + 8, end);
    }
    default:
      // An upper protocol this decoder does not look into (GRE, IP-in-IP, OSPF, ...): nothing more to read.
      return;
  }
}

function readPorts(h: PacketHeaders, d: Uint8Array, p: number, available: number): void {
  if (available < 4) return;
  h.hasPorts = true;
  h.sourcePort = uint16At(d, p);
  h.destinationPort = uint16At(d, p + 2);
}

function setPayload(h: PacketHeaders, start: number, end: number): void {
  h.payloadOffset = start;
  h.payloadEnd = end < start ? start : end;
  h.decodedTo = start;
}

/** Overlay protocols a datapath event may flag its packet as carrying. */
export const OverlayKind = { VXLAN: 1, GENEVE: 2 } as const;
export type OverlayKind = (typeof OverlayKind)[keyof typeof OverlayKind];

/**
 * Decodes the frame inside `outer`'s UDP payload as a VXLAN or Geneve packet into `inner` (reset first). Returns the
 * VNI, or -1 when the outer packet has no UDP payload or the overlay header does not fit (then `inner` is empty).
 */
export function decodeOverlay(outer: PacketHeaders, data: Uint8Array, kind: OverlayKind, inner: PacketHeaders): number {
  inner.reset();
  if ((outer.layers & Layer.UDP) === 0) return -1;
  const p = outer.payloadOffset;
  const end = outer.payloadEnd;
  if (end - p < 8) return -1;
  const vni = (data[p + 4]! << 16) | (data[p + 5]! << 8) | data[p + 6]!;
  if (kind === OverlayKind.VXLAN) {
    decodeFrame(inner, data, LinkType.ETHERNET, p + 8, end);
    return vni;
  }
  const start = p + 8 + (data[p]! & 0x3f) * 4;
  if (start > end) return -1;
  switch (uint16At(data, p + 2)) {
    case EtherType.TRANSPARENT_ETHERNET_BRIDGING:
      decodeFrame(inner, data, LinkType.ETHERNET, start, end);
      break;
    case EtherType.IPV4:
      decodeFrame(inner, data, LinkType.IPV4, start, end);
      break;
    case EtherType.IPV6:
      decodeFrame(inner, data, LinkType.IPV6, start, end);
      break;
    default:
      inner.decodedTo = start;
      inner.stop = DecodeStop.UNSUPPORTED;
  }
  return vni;
}

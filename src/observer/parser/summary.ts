// The legacy flow.Summary text, worded as Hubble's L3/L4 parser words it: the name of the last header decoded
// ("Ethernet", "IPv4", "UDP", ...), "TCP Flags: SYN, ACK", "ICMPv4 EchoRequest", "VRRP VRRPv2 Advertisement", "IGMP ..."
// — Hubble takes these from gopacket's type names, so the ICMP/VRRP/IGMP wording below is gopacket's. ARP gets a
// tcpdump-style line ("ARP Request who-has 10.0.0.1 tell 10.0.0.2"), where Hubble would only say "Ethernet".

import { formatHardwareAddress } from '../../packet/format.js';
import { formatIPv4 } from '../../packet/ipAddress.js';
import { Layer, type PacketHeaders } from '../../packet/frame.js';
import { ArpOperation, EtherType, TcpFlag } from '../../packet/protocols.js';

/** Flag names in the order Hubble lists them (not wire order). */
const TCP_FLAG_ORDER: ReadonlyArray<readonly [number, string]> = [
  [TcpFlag.SYN, 'SYN'],
  [TcpFlag.ACK, 'ACK'],
  [TcpFlag.RST, 'RST'],
  [TcpFlag.FIN, 'FIN'],
  [TcpFlag.PSH, 'PSH'],
  [TcpFlag.URG, 'URG'],
  [TcpFlag.ECE, 'ECE'],
  [TcpFlag.CWR, 'CWR'],
  [TcpFlag.NS, 'NS'],
];

/** "TCP Flags: SYN, ACK" for every one of the 512 flag combinations, indexed by TcpFlag bits. */
const TCP_SUMMARIES: readonly string[] = Array.from(
  { length: 512 },
  (_, bits) =>
    'TCP Flags: ' +
    TCP_FLAG_ORDER.filter(([bit]) => (bits & bit) !== 0)
      .map(([, name]) => name)
      .join(', '),
);

export function tcpSummary(flags: number): string {
  return TCP_SUMMARIES[flags & 0x1ff]!;
}

interface IcmpNames {
  type: string;
  /** Code names, or undefined for types whose code is meant to be 0. */
  codes?: Readonly<Record<number, string>>;
}

const ICMPV4_NAMES: Readonly<Record<number, IcmpNames>> = {
  0: { type: 'EchoReply' },
  3: {
    type: 'DestinationUnreachable',
    codes: {
      0: 'Net',
      1: 'Host',
      2: 'Protocol',
      3: 'Port',
      4: 'FragmentationNeeded',
      5: 'SourceRoutingFailed',
      6: 'NetUnknown',
      7: 'HostUnknown',
      8: 'SourceIsolated',
      9: 'NetAdminProhibited',
      10: 'HostAdminProhibited',
      11: 'NetTOS',
      12: 'HostTOS',
      13: 'CommAdminProhibited',
      14: 'HostPrecedence',
      15: 'PrecedenceCutoff',
    },
  },
  4: { type: 'SourceQuench' },
  5: { type: 'Redirect', codes: { 0: 'Net', 1: 'Host', 2: 'TOS+Net', 3: 'TOS+Host' } },
  8: { type: 'EchoRequest' },
  9: { type: 'RouterAdvertisement' },
  10: { type: 'RouterSolicitation' },
  11: { type: 'TimeExceeded', codes: { 0: 'TTLExceeded', 1: 'FragmentReassemblyTimeExceeded' } },
  12: { type: 'ParameterProblem', codes: { 0: 'PointerIndicatesError', 1: 'MissingOption', 2: 'BadLength' } },
  13: { type: 'TimestampRequest' },
  14: { type: 'TimestampReply' },
  15: { type: 'InfoRequest' },
  16: { type: 'InfoReply' },
  17: { type: 'AddressMaskRequest' },
  18: { type: 'AddressMaskReply' },
};

const ICMPV6_NAMES: Readonly<Record<number, IcmpNames>> = {
  1: {
    type: 'DestinationUnreachable',
    codes: {
      0: 'NoRouteToDst',
      1: 'AdminProhibited',
      2: 'BeyondScopeOfSrc',
      3: 'AddressUnreachable',
      4: 'PortUnreachable',
      5: 'SrcAddressFailedPolicy',
      6: 'RejectRouteToDst',
    },
  },
  2: { type: 'PacketTooBig' },
  3: { type: 'TimeExceeded', codes: { 0: 'HopLimitExceeded', 1: 'FragmentReassemblyTimeExceeded' } },
  4: {
    type: 'ParameterProblem',
    codes: { 0: 'ErroneousHeaderField', 1: 'UnrecognizedNextHeader', 2: 'UnrecognizedIPv6Option' },
  },
  128: { type: 'EchoRequest' },
  129: { type: 'EchoReply' },
  133: { type: 'RouterSolicitation' },
  134: { type: 'RouterAdvertisement' },
  135: { type: 'NeighborSolicitation' },
  136: { type: 'NeighborAdvertisement' },
  137: { type: 'Redirect' },
};

/** gopacket's ICMPv4TypeCode/ICMPv6TypeCode String(): "EchoRequest", "DestinationUnreachable(Port)", "42(0)". */
function icmpTypeCodeText(names: Readonly<Record<number, IcmpNames>>, type: number, code: number): string {
  const known = names[type];
  if (known === undefined) return `${type}(${code})`;
  if (known.codes === undefined) return code === 0 ? known.type : `${known.type}(Code: ${code})`;
  const codeName = known.codes[code];
  return codeName === undefined ? `${known.type}(Code: ${code})` : `${known.type}(${codeName})`;
}

// Every type/code pair is one of 65536; texts are built once and then shared by all flows.
const icmpv4Texts: (string | undefined)[] = [];
const icmpv6Texts: (string | undefined)[] = [];

export function icmpv4Summary(type: number, code: number): string {
  const key = (type << 8) | code;
  return (icmpv4Texts[key] ??= 'ICMPv4 ' + icmpTypeCodeText(ICMPV4_NAMES, type, code));
}

export function icmpv6Summary(type: number, code: number): string {
  const key = (type << 8) | code;
  return (icmpv6Texts[key] ??= 'ICMPv6 ' + icmpTypeCodeText(ICMPV6_NAMES, type, code));
}

/** gopacket names only the advertisement (1); other types print as "". */
export function vrrpSummary(type: number): string {
  return type === 1 ? 'VRRP VRRPv2 Advertisement' : 'VRRP ';
}

const IGMP_TYPE_NAMES: Readonly<Record<number, string>> = {
  0x11: 'IGMP Membership Query',
  0x12: 'IGMPv1 Membership Report',
  0x16: 'IGMPv2 Membership Report',
  0x22: 'IGMPv3 Membership Report',
  0x17: 'Leave Group',
};

export function igmpSummary(type: number): string {
  return 'IGMP ' + (IGMP_TYPE_NAMES[type] ?? '');
}

/** tcpdump's wording for Ethernet/IPv4 ARP; other ARP flavours just say "ARP". */
export function arpSummary(h: PacketHeaders, data: Uint8Array): string {
  if (h.arpProtocolType !== EtherType.IPV4 || h.arpProtocolLength !== 4) return 'ARP';
  const senderIP = formatIPv4(data, h.arpSenderProtocolOffset);
  const targetIP = formatIPv4(data, h.arpTargetProtocolOffset);
  switch (h.arpOperation) {
    case ArpOperation.REQUEST:
      return `ARP Request who-has ${targetIP} tell ${senderIP}`;
    case ArpOperation.REPLY:
      return `ARP Reply ${senderIP} is-at ${formatHardwareAddress(data, h.arpSenderHardwareOffset, h.arpHardwareLength)}`;
    default:
      return `ARP Operation ${h.arpOperation} ${senderIP} -> ${targetIP}`;
  }
}

/** The summary for a decoded frame: named for the last header read, with detail for TCP, ICMP, VRRP, IGMP and ARP. */
export function packetSummary(h: PacketHeaders, data: Uint8Array): string {
  const layers = h.layers;
  if ((layers & Layer.TCP) !== 0) return tcpSummary(h.tcpFlags);
  if ((layers & Layer.UDP) !== 0) return 'UDP';
  if ((layers & Layer.ICMPV4) !== 0) return icmpv4Summary(h.icmpType, h.icmpCode);
  if ((layers & Layer.ICMPV6) !== 0) return icmpv6Summary(h.icmpType, h.icmpCode);
  if ((layers & Layer.SCTP) !== 0) return 'SCTP';
  if ((layers & Layer.VRRP) !== 0) return vrrpSummary(h.vrrpType);
  if ((layers & Layer.IGMP) !== 0) return igmpSummary(h.igmpType);
  if ((layers & Layer.IPV4) !== 0) return 'IPv4';
  if ((layers & Layer.IPV6) !== 0) return 'IPv6';
  if ((layers & Layer.ARP) !== 0) return arpSummary(h, data);
  if ((layers & Layer.ETHERNET) !== 0) return 'Ethernet';
  return '';
}

// Wire numbers the frame decoder dispatches on: EtherTypes, IP protocol numbers and TCP flag bits.

export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  /** 802.1Q customer tag. */
  VLAN: 0x8100,
  /** 802.1ad service tag (QinQ outer tag). */
  QINQ: 0x88a8,
  /** Pre-standard QinQ outer tag some switches still send. */
  QINQ_LEGACY: 0x9100,
  IPV6: 0x86dd,
  /** Geneve's protocol type for an inner Ethernet frame. */
  TRANSPARENT_ETHERNET_BRIDGING: 0x6558,
} as const;

/** IANA protocol numbers (IPv4 protocol field, IPv6 next header). */
export const IpProtocol = {
  HOP_BY_HOP: 0,
  ICMP: 1,
  IGMP: 2,
  IPIP: 4,
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  ROUTING: 43,
  FRAGMENT: 44,
  GRE: 47,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  NO_NEXT_HEADER: 59,
  DESTINATION_OPTIONS: 60,
  VRRP: 112,
  SCTP: 132,
  MOBILITY: 135,
  HIP: 139,
  SHIM6: 140,
} as const;

/**
 * TCP flags as nine bits in wire order: the low byte is header byte 13 (CWR ECE URG ACK PSH RST SYN FIN), bit 8 is
 * NS from byte 12, so a decoder gets them with one shift and one mask.
 */
export const TcpFlag = {
  FIN: 0x001,
  SYN: 0x002,
  RST: 0x004,
  PSH: 0x008,
  ACK: 0x010,
  URG: 0x020,
  ECE: 0x040,
  CWR: 0x080,
  NS: 0x100,
} as const;

export const ArpOperation = { REQUEST: 1, REPLY: 2 } as const;

export const Icmpv4Type = {
  ECHO_REPLY: 0,
  DESTINATION_UNREACHABLE: 3,
  SOURCE_QUENCH: 4,
  REDIRECT: 5,
  ECHO_REQUEST: 8,
  TIME_EXCEEDED: 11,
  PARAMETER_PROBLEM: 12,
} as const;

export const Icmpv6Type = {
  DESTINATION_UNREACHABLE: 1,
  PACKET_TOO_BIG: 2,
  TIME_EXCEEDED: 3,
  PARAMETER_PROBLEM: 4,
  ECHO_REQUEST: 128,
  ECHO_REPLY: 129,
} as const;

/** SCTP chunk type numbers (RFC 9260) that flow.SCTPChunkType names. */
export const SctpChunk = {
  INIT: 1,
  INIT_ACK: 2,
  ABORT: 6,
  SHUTDOWN: 7,
  SHUTDOWN_ACK: 8,
  SHUTDOWN_COMPLETE: 14,
} as const;

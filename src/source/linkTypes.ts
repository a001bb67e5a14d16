// Link-layer types a capture can carry (tcpdump.org LINKTYPE_ numbers) and which of them we can turn into Ethernet.

export const LinkType = {
  /** BSD loopback: a 4-byte address family in the capturing host's byte order, then IP. */
  NULL: 0,
  ETHERNET: 1,
  /** DLT_RAW as most BSDs and old libpcap wrote it into files; Wireshark reads it as raw IP. */
  RAW_BSD: 12,
  /** DLT_RAW as OpenBSD's older libpcap wrote it. */
  RAW_OPENBSD: 14,
  /** Raw IPv4 or IPv6; the version nibble tells which. */
  RAW: 101,
  /** OpenBSD loopback: like NULL with the address family in network byte order. */
  LOOP: 108,
  /** Linux "cooked" capture v1 (libpcap on the "any" device): 16-byte header with packet type and protocol. */
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  /** Linux cooked capture v2: 20-byte header that also carries the interface index. */
  LINUX_SLL2: 276,
} as const;

const names: Readonly<Record<number, string>> = {
  [LinkType.NULL]: 'NULL',
  [LinkType.ETHERNET]: 'ETHERNET',
  [LinkType.RAW_BSD]: 'RAW',
  [LinkType.RAW_OPENBSD]: 'RAW',
  [LinkType.RAW]: 'RAW',
  [LinkType.LOOP]: 'LOOP',
  [LinkType.LINUX_SLL]: 'LINUX_SLL',
  [LinkType.IPV4]: 'IPV4',
  [LinkType.IPV6]: 'IPV6',
  [LinkType.LINUX_SLL2]: 'LINUX_SLL2',
  105: 'IEEE802_11',
  127: 'IEEE802_11_RADIOTAP',
  220: 'USB_LINUX_MMAPPED',
  249: 'NETLINK',
};

/** "LINUX_SLL (113)", or "link type 42" for numbers without a name here. */
export function linkTypeName(linkType: number): string {
  const name = names[linkType];
  return name === undefined ? `link type ${linkType}` : `${name} (${linkType})`;
}

/** Whether frames of this link type can be normalised to Ethernet. */
export function isSupportedLinkType(linkType: number): boolean {
  switch (linkType) {
    case LinkType.NULL:
    case LinkType.ETHERNET:
    case LinkType.RAW_BSD:
    case LinkType.RAW_OPENBSD:
    case LinkType.RAW:
    case LinkType.LOOP:
    case LinkType.LINUX_SLL:
    case LinkType.IPV4:
    case LinkType.IPV6:
    case LinkType.LINUX_SLL2:
      return true;
    default:
      return false;
  }
}

/** Linux packet types (sll_pkttype) in cooked headers. */
export const SllPacketType = {
  HOST: 0,
  BROADCAST: 1,
  MULTICAST: 2,
  OTHERHOST: 3,
  OUTGOING: 4,
} as const;

/** Capture direction of a frame, as far as the capture tells it. */
export const Direction = {
  UNKNOWN: 0,
  INBOUND: 1,
  OUTBOUND: 2,
} as const;
export type Direction = (typeof Direction)[keyof typeof Direction];

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;

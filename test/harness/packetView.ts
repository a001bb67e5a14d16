// Test-only helpers that compare the frame decoder's reading of a packet with tshark's reading of the same bytes.
import { expect } from 'vitest';
import { formatMAC } from '../../src/packet/format.js';
import { formatIP } from '../../src/packet/ipAddress.js';
import { Layer, type PacketHeaders } from '../../src/packet/frame.js';
import type { TsharkLayers } from './tshark.js';

const LAYER_NAMES: ReadonlyArray<[number, string]> = [
  [Layer.ETHERNET, 'eth'],
  [Layer.VLAN, 'vlan'],
  [Layer.ARP, 'arp'],
  [Layer.IPV4, 'ip'],
  [Layer.IPV6, 'ipv6'],
  [Layer.TCP, 'tcp'],
  [Layer.UDP, 'udp'],
  [Layer.SCTP, 'sctp'],
  [Layer.ICMPV4, 'icmp'],
  [Layer.ICMPV6, 'icmpv6'],
  [Layer.VRRP, 'vrrp'],
  [Layer.IGMP, 'igmp'],
];

/** Names of the layers decoded, in stack order ("eth", "vlan", "ip", "tcp"). */
export function layerNames(h: PacketHeaders): string[] {
  return LAYER_NAMES.filter(([bit]) => (h.layers & bit) !== 0).map(([, name]) => name);
}

const TRANSPORTS = new Set(['tcp', 'udp', 'sctp', 'icmp', 'icmpv6', 'igmp', 'vrrp', 'esp', 'gre']);

/** The first transport tshark dissected after the outermost IP header, if any. */
export function tsharkTransport(frame: TsharkLayers): string | undefined {
  const tokens = (frame['frame.protocols'] ?? '').split(':');
  const ipAt = tokens.findIndex((t) => t === 'ip' || t === 'ipv6');
  if (ipAt < 0) return undefined;
  return tokens.slice(ipAt + 1).find((t) => TRANSPORTS.has(t));
}

/**
 * Asserts that everything both readings know agrees: addresses, VLAN ids, ARP fields, the transport protocol and its
 * ports, TCP flags, ICMP type/code, SCTP chunk, IGMP and VRRP fields. `label` names the frame in failures.
 */
export function expectAgreesWithTshark(h: PacketHeaders, data: Uint8Array, ts: TsharkLayers, label: string): void {
  const ours: Record<string, string | undefined> = {};
  const theirs: Record<string, string | undefined> = {};
  const compare = (key: string, mine: string | number | undefined, tshark: string | undefined) => {
    ours[key] = mine === undefined ? undefined : String(mine);
    theirs[key] = tshark;
  };
  if ((h.layers & Layer.ETHERNET) !== 0) {
    compare('eth.src', formatMAC(data, h.linkOffset + 6), ts['eth.src']);
    compare('eth.dst', formatMAC(data, h.linkOffset), ts['eth.dst']);
  }
  if (ts['ieee8021ad.id'] !== undefined) {
    compare('vlan.outer', h.vlanOuter, ts['ieee8021ad.id']);
    compare('vlan.inner', h.vlanInner, ts['vlan.id']);
  } else if (ts['vlan.id'] !== undefined) {
    compare('vlan.outer', h.vlanOuter, ts['vlan.id']);
  }
  if ((h.layers & Layer.ARP) !== 0) {
    compare('arp.opcode', h.arpOperation, ts['arp.opcode']);
    compare('arp.src', formatIP(data, h.arpSenderProtocolOffset, 4), ts['arp.src.proto_ipv4']);
    compare('arp.dst', formatIP(data, h.arpTargetProtocolOffset, 4), ts['arp.dst.proto_ipv4']);
  }
  if (h.ipVersion === 4) {
    compare('ip.src', formatIP(data, h.sourceAddressOffset, 4), ts['ip.src']);
    compare('ip.dst', formatIP(data, h.destinationAddressOffset, 4), ts['ip.dst']);
    compare(
      'ip.mf',
      h.moreFragments ? 1 : 0,
      ts['ip.flags.mf'] === 'True' ? '1' : ts['ip.flags.mf'] === 'False' ? '0' : ts['ip.flags.mf'],
    );
    // tshark counts the fragment offset in 8-byte units, as the header does.
    compare('ip.frag_offset', h.fragmentOffset / 8, ts['ip.frag_offset']);
  } else if (h.ipVersion === 6) {
    compare('ipv6.src', formatIP(data, h.sourceAddressOffset, 6), ts['ipv6.src']);
    compare('ipv6.dst', formatIP(data, h.destinationAddressOffset, 6), ts['ipv6.dst']);
  }
  const transport = tsharkTransport(ts);
  const decoded = layerNames(h).find((n) => TRANSPORTS.has(n));
  if (decoded !== undefined) compare('transport', decoded, transport);
  if (h.hasPorts && (transport === 'tcp' || transport === 'udp' || transport === 'sctp')) {
    compare('sport', h.sourcePort, ts[`${transport}.srcport`]);
    compare('dport', h.destinationPort, ts[`${transport}.dstport`]);
  }
  if ((h.layers & Layer.TCP) !== 0 && ts['tcp.flags'] !== undefined) {
    compare('tcp.flags', h.tcpFlags, String(parseInt(ts['tcp.flags'], 16) & 0x1ff));
  }
  if ((h.layers & Layer.ICMPV4) !== 0) {
    compare('icmp.type', h.icmpType, ts['icmp.type']);
    compare('icmp.code', h.icmpCode, ts['icmp.code']);
  }
  if ((h.layers & Layer.ICMPV6) !== 0) {
    compare('icmpv6.type', h.icmpType, ts['icmpv6.type']);
    compare('icmpv6.code', h.icmpCode, ts['icmpv6.code']);
  }
  if ((h.layers & Layer.SCTP) !== 0 && h.sctpChunkType >= 0)
    compare('sctp.chunk', h.sctpChunkType, ts['sctp.chunk_type']);
  if ((h.layers & Layer.IGMP) !== 0) {
    compare('igmp.type', `0x${h.igmpType.toString(16).padStart(2, '0')}`, ts['igmp.type']);
    compare('igmp.maddr', formatIP(data, h.igmpGroupOffset, 4), ts['igmp.maddr']);
  }
  if ((h.layers & Layer.VRRP) !== 0) {
    compare('vrrp.vrid', h.vrrpRouterId, ts['vrrp.virt_rtr_id']);
    compare('vrrp.prio', h.vrrpPriority, ts['vrrp.prio']);
  }
  expect(ours, label).toEqual(theirs);
}

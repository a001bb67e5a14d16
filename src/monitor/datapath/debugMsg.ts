// Codec for the datapath's debug message (struct debug_msg) and the text `cilium monitor` and Hubble show for each kind.
//
// Layout (little-endian as the datapath writes it):
//   0 type u8 | 1 subtype u8 = debug type | 2 source u16 | 4 hash u32 | 8 arg1 u32 | 12 arg2 u32 | 16 arg3 u32  (20 bytes)

import { requireLength, requireMessageType, viewOf } from './decodeError.js';
import { dropReasonDescription } from './dropReason.js';
import { MessageType } from './messageType.js';
import { byteSwap16, byteSwap32 } from '../../packet/format.js';

export const DEBUG_MSG_LEN = 20;

/** Debug message kinds; numbers as bpf/lib/dbg.h and flow.DebugEventType use them. */
export const DebugType = {
  UNSPEC: 0,
  GENERIC: 1,
  LOCAL_DELIVERY: 2,
  ENCAP: 3,
  LXC_FOUND: 4,
  POLICY_DENIED: 5,
  CT_LOOKUP: 6,
  CT_LOOKUP_REV: 7,
  CT_MATCH: 8,
  CT_CREATED: 9,
  CT_CREATED2: 10,
  ICMP6_HANDLE: 11,
  ICMP6_REQUEST: 12,
  ICMP6_NS: 13,
  ICMP6_TIME_EXCEEDED: 14,
  CT_VERDICT: 15,
  DECAP: 16,
  PORT_MAP: 17,
  ERROR_RET: 18,
  TO_HOST: 19,
  TO_STACK: 20,
  PKT_HASH: 21,
  LB6_LOOKUP_FRONTEND: 22,
  LB6_LOOKUP_FRONTEND_FAIL: 23,
  LB6_LOOKUP_BACKEND_SLOT: 24,
  LB6_LOOKUP_BACKEND_SLOT_SUCCESS: 25,
  LB6_LOOKUP_BACKEND_SLOT_V2_FAIL: 26,
  LB6_LOOKUP_BACKEND_FAIL: 27,
  LB6_REVERSE_NAT_LOOKUP: 28,
  LB6_REVERSE_NAT: 29,
  LB4_LOOKUP_FRONTEND: 30,
  LB4_LOOKUP_FRONTEND_FAIL: 31,
  LB4_LOOKUP_BACKEND_SLOT: 32,
  LB4_LOOKUP_BACKEND_SLOT_SUCCESS: 33,
  LB4_LOOKUP_BACKEND_SLOT_V2_FAIL: 34,
  LB4_LOOKUP_BACKEND_FAIL: 35,
  LB4_REVERSE_NAT_LOOKUP: 36,
  LB4_REVERSE_NAT: 37,
  LB4_LOOPBACK_SNAT: 38,
  LB4_LOOPBACK_SNAT_REV: 39,
  CT_LOOKUP4: 40,
  RR_BACKEND_SLOT_SEL: 41,
  REV_PROXY_LOOKUP: 42,
  REV_PROXY_FOUND: 43,
  REV_PROXY_UPDATE: 44,
  L4_POLICY: 45,
  NETDEV_IN_CLUSTER: 46,
  NETDEV_ENCAP4: 47,
  CT_LOOKUP4_1: 48,
  CT_LOOKUP4_2: 49,
  CT_CREATED4: 50,
  CT_LOOKUP6_1: 51,
  CT_LOOKUP6_2: 52,
  CT_CREATED6: 53,
  SKIP_PROXY: 54,
  L4_CREATE: 55,
  IP_ID_MAP_FAILED4: 56,
  IP_ID_MAP_FAILED6: 57,
  IP_ID_MAP_SUCCEED4: 58,
  IP_ID_MAP_SUCCEED6: 59,
  LB_STALE_CT: 60,
  INHERIT_IDENTITY: 61,
  SK_LOOKUP4: 62,
  SK_LOOKUP6: 63,
  SK_ASSIGN: 64,
  L7_LB: 65,
  SKIP_POLICY: 66,
  LB6_LOOPBACK_SNAT: 67,
  LB6_LOOPBACK_SNAT_REV: 68,
} as const;

const debugTypeNames: readonly string[] = Object.keys(DebugType).map((k) =>
  k === 'UNSPEC' ? 'DBG_EVENT_UNKNOWN' : `DBG_${k}`,
);

/** flow.DebugEventType name for a debug type ("DBG_CT_LOOKUP"), or the number as text. */
export function debugTypeName(type: number): string {
  return debugTypeNames[type] ?? String(type);
}

export interface DebugMsg {
  type: number;
  subType: number;
  source: number;
  hash: number;
  arg1: number;
  arg2: number;
  arg3: number;
}

export type DebugMsgInit = Partial<Omit<DebugMsg, 'type'>>;

export function encodeDebugMsg(init: DebugMsgInit): Uint8Array {
  const out = new Uint8Array(DEBUG_MSG_LEN);
  const view = viewOf(out);
  out[0] = MessageType.DEBUG;
  out[1] = init.subType ?? 0;
  view.setUint16(2, init.source ?? 0, true);
  view.setUint32(4, init.hash ?? 0, true);
  view.setUint32(8, init.arg1 ?? 0, true);
  view.setUint32(12, init.arg2 ?? 0, true);
  view.setUint32(16, init.arg3 ?? 0, true);
  return out;
}

/** Decodes a debug message; throws DatapathDecodeError when too short or not a debug message. */
export function decodeDebugMsg(data: Uint8Array): DebugMsg {
  requireLength(data, DEBUG_MSG_LEN, 'debug message');
  requireMessageType(data, MessageType.DEBUG, 'debug message');
  const view = viewOf(data);
  return {
    type: data[0]!,
    subType: data[1]!,
    source: view.getUint16(2, true),
    hash: view.getUint32(4, true),
    arg1: view.getUint32(8, true),
    arg2: view.getUint32(12, true),
    arg3: view.getUint32(16, true),
  };
}

// --- message text -------------------------------------------------------------------------------
// The args are raw u32s; some hold addresses or ports in network order, which the datapath stored
// as-is, so a little-endian read leaves the first address byte in the low bits.

/** An IPv4 address held in network order inside a little-endian u32. */
function ip4(arg: number): string {
  return `${arg & 0xff}.${(arg >>> 8) & 0xff}.${(arg >>> 16) & 0xff}.${arg >>> 24}`;
}

/** The last 32 bits of an IPv6 address (network order) as "hi:lo" hex groups. */
function ip6Tail(arg: number): string {
  const host = byteSwap32(arg);
  return `${(host >>> 16).toString(16)}:${(host & 0xffff).toString(16)}`;
}

/** Go's %#x: 0x-prefixed lower-case hex ("0x0" for zero). */
function hex0x(value: number): string {
  return `0x${value.toString(16)}`;
}

function hex(value: number): string {
  return value.toString(16);
}

const ctStateNames: readonly string[] = ['New', 'Established', 'Reply', 'Related'];

function ctState(state: number): string {
  return ctStateNames[state] ?? dropReasonDescription(state & 0xff);
}

/** Tuple flag bits, in bit order (upstream iterates a map, so its order varies; ours is stable). */
function ctFlags(flags: number): string {
  const names: string[] = [];
  if (flags & 1) names.push('OUT');
  if (flags & 2) names.push('RELATED');
  return names.join(', ');
}

function ctInfo(arg1: number, arg2: number): string {
  return `sport=${arg1 >>> 16} dport=${arg1 & 0xffff} nexthdr=${arg2 >>> 8} flags=${ctFlags(arg2 & 0xff)}`;
}

function ctLookup4Info1(m: DebugMsg): string {
  return `src=${ip4(m.arg1)}:${m.arg3 & 0xffff} dst=${ip4(m.arg2)}:${m.arg3 >>> 16}`;
}

function ctLookupInfo2(m: DebugMsg): string {
  return `nexthdr=${m.arg1 >>> 8} flags=${m.arg1 & 0xff}`;
}

function ctLookup6Info1(m: DebugMsg): string {
  return `src=[::${ip6Tail(m.arg1)}]:${m.arg3 & 0xffff} dst=[::${ip6Tail(m.arg2)}]:${m.arg3 >>> 16}`;
}

function revnat(arg: number): string {
  return `revnat=${byteSwap16(arg & 0xffff)}`;
}

function proxyInfo(arg1: number, arg2: number): string {
  return `sport=${byteSwap16(arg1 >>> 16)} dport=${byteSwap16(arg1 & 0xffff)} saddr=${ip4(arg2)}`;
}

const ctDirectionNames: readonly string[] = ['egress', 'ingress'];

/** Go's syscall.Errno text for the errors socket assignment reports; others print their number. */
const errnoText: Readonly<Record<number, string>> = {
  1: 'operation not permitted',
  2: 'no such file or directory',
  12: 'cannot allocate memory',
  22: 'invalid argument',
  94: 'socket type not supported',
  95: 'operation not supported',
  97: 'address family not supported by protocol',
  98: 'address already in use',
};

/** Resolves an interface index to its name; optional because not every node can. */
export type LinkNameLookup = (ifindex: number) => string;

/**
 * The human-readable text of a debug message, formatted as Cilium's monitor formats it, so Hubble's
 * DebugEvent.message reads the same here as from a Cilium node.
 */
export function debugMessageText(m: DebugMsg, linkName?: LinkNameLookup): string {
  const { arg1, arg2, arg3 } = m;
  switch (m.subType) {
    case DebugType.GENERIC:
      return `No message, arg1=${arg1} (${hex0x(arg1)}) arg2=${arg2} (${hex0x(arg2)})`;
    case DebugType.LOCAL_DELIVERY:
      return `Attempting local delivery for container id ${arg1} from seclabel ${arg2}`;
    case DebugType.ENCAP:
      return `Encapsulating to node ${arg1} (${hex0x(arg1)}) from seclabel ${arg2}`;
    case DebugType.LXC_FOUND:
      return `Local container found ifindex ${linkName ? linkName(arg1) : ''} seclabel ${byteSwap16(arg2 & 0xffff)}`;
    case DebugType.POLICY_DENIED:
      return `Policy evaluation would deny packet from ${arg1} to ${arg2}`;
    case DebugType.CT_LOOKUP:
      return `CT lookup: ${ctInfo(arg1, arg2)}`;
    case DebugType.CT_LOOKUP_REV:
      return `CT reverse lookup: ${ctInfo(arg1, arg2)}`;
    case DebugType.CT_LOOKUP4:
      return `CT lookup address: ${ip4(arg1)}`;
    case DebugType.CT_MATCH:
      return `CT entry found lifetime=${arg1}, ${revnat(arg2)}`;
    case DebugType.CT_CREATED:
      return `CT created 1/2: ${ctInfo(arg1, arg2)} ${revnat(arg3)}`;
    case DebugType.CT_CREATED2:
      return `CT created 2/2: ${ip4(arg1)} revnat=${byteSwap16(arg2 & 0xffff)}`;
    case DebugType.CT_VERDICT:
      return `CT verdict: ${ctState(arg1)}, ${revnat(arg2)}`;
    case DebugType.ICMP6_HANDLE:
      return `Handling ICMPv6 type=${arg1}`;
    case DebugType.ICMP6_REQUEST:
      return `ICMPv6 echo request for router offset=${arg1}`;
    case DebugType.ICMP6_NS:
      // Upstream's spelling, kept so the text matches what users grep for.
      return `ICMPv6 neighbour soliciation for address ${hex(arg1)}:${hex(arg2)}`;
    case DebugType.ICMP6_TIME_EXCEEDED:
      return 'Sending ICMPv6 time exceeded';
    case DebugType.DECAP:
      return `Tunnel decap: id=${arg1} flowlabel=${hex(arg2)}`;
    case DebugType.PORT_MAP:
      return `Mapping port from=${arg1} to=${arg2}`;
    case DebugType.ERROR_RET:
      return `BPF function ${arg1} returned error ${arg2}`;
    case DebugType.TO_HOST:
      return `Going to host, policy-skip=${arg1}`;
    case DebugType.TO_STACK:
      return `Going to the stack, policy-skip=${arg1}`;
    case DebugType.PKT_HASH:
      return `Packet hash=${arg1} (${hex0x(arg1)}), selected_service=${arg2}`;
    case DebugType.RR_BACKEND_SLOT_SEL:
      return `RR backend slot selection hash=${arg1} (${hex0x(arg1)}), selected_service=${arg2}`;
    case DebugType.LB6_LOOKUP_FRONTEND:
      return `Frontend service lookup, addr.p4=${hex(arg1)} key.dport=${byteSwap16(arg2 & 0xffff)}`;
    case DebugType.LB6_LOOKUP_FRONTEND_FAIL:
      return `Frontend service lookup failed, addr.p2=${hex(arg1)} addr.p3=${hex(arg2)}`;
    case DebugType.LB6_LOOKUP_BACKEND_SLOT:
    case DebugType.LB4_LOOKUP_BACKEND_SLOT:
      return `Service backend slot lookup: slot=${arg1}, dport=${byteSwap16(arg2 & 0xffff)}`;
    case DebugType.LB6_LOOKUP_BACKEND_SLOT_V2_FAIL:
    case DebugType.LB4_LOOKUP_BACKEND_SLOT_V2_FAIL:
      return `Service backend slot lookup failed: slot=${arg1}, dport=${byteSwap16(arg2 & 0xffff)}`;
    case DebugType.LB6_LOOKUP_BACKEND_FAIL:
    case DebugType.LB4_LOOKUP_BACKEND_FAIL:
      return `Backend service lookup failed: backend_id=${arg1}`;
    case DebugType.LB6_LOOKUP_BACKEND_SLOT_SUCCESS:
      return `Service backend slot lookup result: target.p4=${hex(arg1)} port=${byteSwap16(arg2 & 0xffff)}`;
    case DebugType.LB6_REVERSE_NAT_LOOKUP:
    case DebugType.LB4_REVERSE_NAT_LOOKUP:
      return `Reverse NAT lookup, index=${byteSwap16(arg1 & 0xffff)}`;
    case DebugType.LB6_REVERSE_NAT:
      return `Performing reverse NAT, address.p4=${hex(arg1)} port=${byteSwap16(arg2 & 0xffff)}`;
    case DebugType.LB4_LOOKUP_FRONTEND:
      return `Frontend service lookup, addr=${ip4(arg1)} key.dport=${byteSwap16(arg2 & 0xffff)}`;
    case DebugType.LB4_LOOKUP_FRONTEND_FAIL:
      return 'Frontend service lookup failed';
    case DebugType.LB4_LOOKUP_BACKEND_SLOT_SUCCESS:
      return `Service backend slot lookup result: target=${ip4(arg1)} port=${byteSwap16(arg2 & 0xffff)}`;
    case DebugType.LB4_REVERSE_NAT:
      return `Performing reverse NAT, address=${ip4(arg1)} port=${byteSwap16(arg2 & 0xffff)}`;
    case DebugType.LB4_LOOPBACK_SNAT:
      return `Loopback SNAT from=${ip4(arg1)} to=${ip4(arg2)}`;
    case DebugType.LB4_LOOPBACK_SNAT_REV:
      return `Loopback reverse SNAT from=${ip4(arg1)} to=${ip4(arg2)}`;
    case DebugType.REV_PROXY_LOOKUP:
      return `Reverse proxy lookup ${proxyInfo(arg1, arg2)} nexthdr=${arg3}`;
    case DebugType.REV_PROXY_FOUND:
      return `Reverse proxy entry found, orig-daddr=${ip4(arg1)} orig-dport=${arg2}`;
    case DebugType.REV_PROXY_UPDATE:
      return `Reverse proxy updated ${proxyInfo(arg1, arg2)} nexthdr=${arg3}`;
    case DebugType.L4_POLICY:
      return `Resolved L4 policy to: ${byteSwap16(arg1 & 0xffff)} / ${ctDirectionNames[arg2] ?? ''}`;
    case DebugType.NETDEV_IN_CLUSTER:
      return `Destination is inside cluster prefix, source identity: ${arg1}`;
    case DebugType.NETDEV_ENCAP4:
      return `Attempting encapsulation, lookup key: ${ip4(arg1)}, identity: ${arg2}`;
    case DebugType.CT_LOOKUP4_1:
      return `Conntrack lookup 1/2: ${ctLookup4Info1(m)}`;
    case DebugType.CT_LOOKUP4_2:
    case DebugType.CT_LOOKUP6_2:
      return `Conntrack lookup 2/2: ${ctLookupInfo2(m)}`;
    case DebugType.CT_CREATED4:
      return `Conntrack create: proxy-port=${arg1 >>> 16} ${revnat(arg1)} src-identity=${arg2} lb=${ip4(arg3)}`;
    case DebugType.CT_LOOKUP6_1:
      return `Conntrack lookup 1/2: ${ctLookup6Info1(m)}`;
    case DebugType.CT_CREATED6:
      return `Conntrack create: proxy-port=${arg1 >>> 16} ${revnat(arg1)} src-identity=${arg2}`;
    case DebugType.SKIP_PROXY:
      return `Skipping proxy, tc_index is set=${hex(arg1)}`;
    case DebugType.L4_CREATE:
      return `Matched L4 policy; creating conntrack src=${arg1} dst=${arg2} dport=${byteSwap16(arg3 >>> 16)} proto=${arg3 & 0xff}`;
    case DebugType.IP_ID_MAP_FAILED4:
      return `Failed to map addr=${ip4(arg1)} to identity`;
    case DebugType.IP_ID_MAP_FAILED6:
      return `Failed to map addr.p4=[::${ip6Tail(arg1)}] to identity`;
    case DebugType.IP_ID_MAP_SUCCEED4:
      return `Successfully mapped addr=${ip4(arg1)} to identity=${arg2}`;
    case DebugType.IP_ID_MAP_SUCCEED6:
      return `Successfully mapped addr.p4=[::${ip6Tail(arg1)}] to identity=${arg2}`;
    case DebugType.LB_STALE_CT:
      return `Stale CT entry found stale_ct.rev_nat_id=${arg2}, svc.rev_nat_id=${arg1}`;
    case DebugType.INHERIT_IDENTITY:
      return `Inheriting identity=${arg1} from stack`;
    case DebugType.SK_LOOKUP4:
      return `Socket lookup: ${ctLookup4Info1(m)}`;
    case DebugType.SK_LOOKUP6:
      return `Socket lookup: ${ctLookup6Info1(m)}`;
    case DebugType.SK_ASSIGN:
      return `Socket assign: ${arg1 === 0 ? 'Success' : (errnoText[arg1] ?? `errno ${arg1}`)}`;
    case DebugType.L7_LB:
      return `L7 LB from ${ip4(arg1)} to ${ip4(arg2)}: proxy port ${arg3}`;
    default:
      return `Unknown message type=${m.subType} arg1=${arg1} arg2=${arg2}`;
  }
}

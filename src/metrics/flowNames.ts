// The label values Hubble's metric handlers derive from a flow, spelled as Hubble spells them: the protocol that best
// describes a flow, enum names (Go's String() of the proto enums), observation points, ICMP types as gopacket names
// them. Each is a table lookup or a cached string, so handlers build no strings per flow.
import { DropReason, IPVersion, Verdict, type Flow } from '../api/flow/flow.js';
import { MessageType } from '../monitor/datapath/messageType.js';
import { traceObservationPointName } from '../monitor/datapath/traceNotify.js';

/** Text of 0..65535, filled as numbers are met; dense, so a lookup is an indexed load. */
const numberTexts = new Array<string | undefined>(65536).fill(undefined);

/** A non-negative integer as text, cached (ports, status codes, counts). */
export function numberText(n: number): string {
  if (n >= 0 && n < 65536 && Number.isInteger(n)) return (numberTexts[n] ??= String(n));
  return String(n);
}

/**
 * Go's String() of a proto enum value: its name, or the number for values the enum does not know. The names go into
 * a dense array up front: a TypeScript enum object maps both ways and is slow to index by number.
 */
function enumNamer(names: Readonly<Record<string, string | number>>): (value: number) => string {
  const numbers = Object.values(names).filter((v): v is number => typeof v === 'number' && v >= 0);
  const table = new Array<string>(Math.max(...numbers) + 1).fill('');
  for (let i = 0; i < table.length; i++) table[i] = (names[i] as string | undefined) ?? String(i);
  return (value) => (value >= 0 && value < table.length ? table[value]! : numberText(value));
}

export const verdictName = enumNamer(Verdict);
export const dropReasonName = enumNamer(DropReason);
export const ipVersionName = enumNamer(IPVersion);

/** The protocol best describing a flow, as Hubble's FlowProtocol: the L7 protocol, else the L4 one. */
export function flowProtocol(flow: Flow): string {
  switch (flow.eventType?.type) {
    case MessageType.ACCESS_LOG: {
      const l7 = flow.l7;
      if (l7?.dns !== undefined) return 'DNS';
      if (l7?.http !== undefined) return 'HTTP';
      if (l7?.kafka !== undefined) return 'Kafka';
      return 'Unknown L7';
    }
    case MessageType.DROP:
    case MessageType.TRACE:
    case MessageType.POLICY_VERDICT:
    case MessageType.CAPTURE: {
      const l4 = flow.l4;
      if (l4 === undefined) return 'Unknown L4';
      if (l4.TCP !== undefined) return 'TCP';
      if (l4.UDP !== undefined) return 'UDP';
      if (l4.ICMPv4 !== undefined) return 'ICMPv4';
      if (l4.ICMPv6 !== undefined) return 'ICMPv6';
      if (l4.SCTP !== undefined) return 'SCTP';
      if (l4.VRRP !== undefined) return 'VRRP';
      if (l4.IGMP !== undefined) return 'IGMP';
      return 'Unknown L4';
    }
    default:
      return 'Unknown flow';
  }
}

/** Observation points Hubble names (to-endpoint ... to-crypto); others are "" in the flow metric's subtype. */
const OBSERVATION_POINTS = 14;

export function observationPointLabel(subType: number): string {
  return subType >= 0 && subType < OBSERVATION_POINTS ? traceObservationPointName(subType) : '';
}

interface IcmpTypeNames {
  type: string;
  codes?: readonly string[];
}

// gopacket's names of ICMP types and codes (layers.ICMPv4TypeCode / ICMPv6TypeCode String()), which Hubble's icmp
// metric uses as its "type" label.
const ICMPV4: Readonly<Record<number, IcmpTypeNames>> = {
  0: { type: 'EchoReply' },
  3: {
    type: 'DestinationUnreachable',
    codes: [
      'Net',
      'Host',
      'Protocol',
      'Port',
      'FragmentationNeeded',
      'SourceRoutingFailed',
      'NetUnknown',
      'HostUnknown',
      'SourceIsolated',
      'NetAdminProhibited',
      'HostAdminProhibited',
      'NetTOS',
      'HostTOS',
      'CommAdminProhibited',
      'HostPrecedence',
      'PrecedenceCutoff',
    ],
  },
  4: { type: 'SourceQuench' },
  5: { type: 'Redirect', codes: ['Net', 'Host', 'TOS+Net', 'TOS+Host'] },
  8: { type: 'EchoRequest' },
  9: { type: 'RouterAdvertisement' },
  10: { type: 'RouterSolicitation' },
  11: { type: 'TimeExceeded', codes: ['TTLExceeded', 'FragmentReassemblyTimeExceeded'] },
  12: { type: 'ParameterProblem', codes: ['PointerIndicatesError', 'MissingOption', 'BadLength'] },
  13: { type: 'TimestampRequest' },
  14: { type: 'TimestampReply' },
  15: { type: 'InfoRequest' },
  16: { type: 'InfoReply' },
  17: { type: 'AddressMaskRequest' },
  18: { type: 'AddressMaskReply' },
};

const ICMPV6: Readonly<Record<number, IcmpTypeNames>> = {
  1: {
    type: 'DestinationUnreachable',
    codes: [
      'NoRouteToDst',
      'AdminProhibited',
      'BeyondScopeOfSrc',
      'AddressUnreachable',
      'PortUnreachable',
      'SrcAddressFailedPolicy',
      'RejectRouteToDst',
    ],
  },
  2: { type: 'PacketTooBig' },
  3: { type: 'TimeExceeded', codes: ['HopLimitExceeded', 'FragmentReassemblyTimeExceeded'] },
  4: { type: 'ParameterProblem', codes: ['ErroneousHeaderField', 'UnrecognizedNextHeader', 'UnrecognizedIPv6Option'] },
  128: { type: 'EchoRequest' },
  129: { type: 'EchoReply' },
  133: { type: 'RouterSolicitation' },
  134: { type: 'RouterAdvertisement' },
  135: { type: 'NeighborSolicitation' },
  136: { type: 'NeighborAdvertisement' },
  137: { type: 'Redirect' },
};

function icmpName(table: Readonly<Record<number, IcmpTypeNames>>, type: number, code: number): string {
  const names = table[type];
  if (names === undefined) return `${type}(${code})`;
  if (names.codes === undefined) return code === 0 ? names.type : `${names.type}(Code: ${code})`;
  const codeName = names.codes[code];
  return codeName === undefined ? `${names.type}(Code: ${code})` : `${names.type}(${codeName})`;
}

function icmpNamer(table: Readonly<Record<number, IcmpTypeNames>>): (type: number, code: number) => string {
  const cache = new Map<number, string>();
  return (type, code) => {
    const key = ((type & 0xff) << 8) | (code & 0xff);
    let name = cache.get(key);
    if (name === undefined) cache.set(key, (name = icmpName(table, type & 0xff, code & 0xff)));
    return name;
  };
}

/** "EchoRequest", "DestinationUnreachable(Port)", "TimeExceeded(TTLExceeded)", "42(0)". */
export const icmpv4TypeName = icmpNamer(ICMPV4);
export const icmpv6TypeName = icmpNamer(ICMPV6);

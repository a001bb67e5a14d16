// source_port / destination_port: TCP, UDP or SCTP flows with one of these port numbers.
import type { Flow, FlowFilter } from '../../api/flow/flow.js';
import { Cost, type FieldFilter } from './fieldFilter.js';
import { FilterError } from './filterError.js';

/** The port, or -1 for flows without a TCP, UDP or SCTP header. */
function sourcePort(flow: Flow): number {
  const l4 = flow.l4;
  return l4?.TCP?.sourcePort ?? l4?.UDP?.sourcePort ?? l4?.SCTP?.sourcePort ?? -1;
}

function destinationPort(flow: Flow): number {
  const l4 = flow.l4;
  return l4?.TCP?.destinationPort ?? l4?.UDP?.destinationPort ?? l4?.SCTP?.destinationPort ?? -1;
}

function portFilter(field: string, values: readonly string[], port: (flow: Flow) => number): FieldFilter {
  const ports = new Set<number>();
  for (const v of values) {
    // strconv.ParseUint(v, 10, 16): decimal digits only, leading zeros allowed.
    if (!/^[0-9]+$/.test(v) || Number(v) > 65535) throw new FilterError(field, v, 'is not a port number (0-65535)');
    ports.add(Number(v));
  }
  // Ports are uint32 on the wire; upstream compares their low 16 bits.
  const key = (flow: Flow): number | undefined => {
    const p = port(flow);
    return p >= 0 ? p & 0xffff : undefined;
  };
  return {
    field,
    cost: Cost.Cheap,
    matchFlow: (flow) => {
      const k = key(flow);
      return k !== undefined && ports.has(k);
    },
    keys: { kind: 'equal', of: key, values: ports },
  };
}

export function portFilters(ff: FlowFilter): FieldFilter[] {
  const out: FieldFilter[] = [];
  if (ff.sourcePort.length > 0) out.push(portFilter('source_port', ff.sourcePort, sourcePort));
  if (ff.destinationPort.length > 0) out.push(portFilter('destination_port', ff.destinationPort, destinationPort));
  return out;
}

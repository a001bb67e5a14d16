// tcp_flags: TCP flows that have every flag set in at least one of these entries ("syn" matches
// SYN and SYN-ACK alike).
import type { FlowFilter, TCPFlags } from '../../api/flow/flow.js';
import { Cost, type FieldFilter } from './fieldFilter.js';

function mask(f: TCPFlags): number {
  return (
    (f.FIN ? 1 : 0) |
    (f.SYN ? 2 : 0) |
    (f.RST ? 4 : 0) |
    (f.PSH ? 8 : 0) |
    (f.ACK ? 16 : 0) |
    (f.URG ? 32 : 0) |
    (f.ECE ? 64 : 0) |
    (f.CWR ? 128 : 0) |
    (f.NS ? 256 : 0)
  );
}

export function tcpFlagsFilters(ff: FlowFilter): FieldFilter[] {
  if (ff.tcpFlags.length === 0) return [];
  const wanted = ff.tcpFlags.map(mask);
  return [
    {
      field: 'tcp_flags',
      cost: Cost.Cheap,
      matchFlow: (flow) => {
        const flags = flow.l4?.TCP?.flags;
        if (flags === undefined) return false;
        const have = mask(flags);
        for (const w of wanted) if ((have & w) === w) return true;
        return false;
      },
    },
  ];
}

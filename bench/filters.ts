// Many filters in one request: what a GetFlows request's filters cost each flow it reads, with 5,000 FlowFilters
// naming an address and a port each, 5,000 CIDRs and 5,000 ports (a long list is indexed by these), against the
// reference of one such filter; and how long 5,000 take to compile. Flows are held in memory, a few of them passing.
// Run by bench/run.ts, or alone: node --import tsx bench/filters.ts
import { Flow, FlowFilter, type DeepPartial } from '../src/api/flow/flow.js';
import { compileFlowFilters } from '../src/observer/filters/index.js';

const FILTERS = 5000;
const FLOWS = 20_000;
const ROUNDS = 5;

export interface FiltersResults {
  filters1_ns_per_flow: number;
  filters5000_address_port_ns_per_flow: number;
  filters5000_cidr_ns_per_flow: number;
  filters5000_port_ns_per_flow: number;
  filters5000_compile_ms: number;
}

const LISTS: Record<string, (i: number) => DeepPartial<FlowFilter>> = {
  address_port: (i) => ({ sourceIp: [`10.1.${i >> 8}.${i & 255}`], destinationPort: [String(1000 + i)] }),
  cidr: (i) => ({ sourceIp: [`10.${2 + (i >> 8)}.${i & 255}.0/24`] }),
  port: (i) => ({ destinationPort: [String(1000 + i)] }),
};

/** Flows from 10.1.0.0/16 and 10.2.0.0/16 to ports 1000-11000: about one in eight passes each list. */
function flows(): Flow[] {
  return Array.from({ length: FLOWS }, (_, i) =>
    Flow.fromPartial({
      IP: { source: `10.${1 + (i & 1)}.${(i >> 1) & 31}.${(i * 7) & 255}`, destination: '10.0.0.1', ipVersion: 1 },
      l4: { TCP: { sourcePort: 40000 + (i & 1023), destinationPort: 1000 + ((i * 13) % 10000) } },
    }),
  );
}

/** The best of ROUNDS: ns a flow for `check` over `held`. */
function nsPerFlow(check: (flow: Flow) => boolean, held: readonly Flow[]): number {
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    let passed = 0;
    for (const f of held) if (check(f)) passed++;
    best = Math.min(best, Number(process.hrtime.bigint() - start) / held.length);
    if (passed === 0) throw new Error('no flow passed: the benchmark measures nothing');
  }
  return best;
}

export function benchFilters(log: (line: string) => void): FiltersResults {
  const held = flows();
  const lists = Object.fromEntries(
    Object.entries(LISTS).map(([name, make]) => [
      name,
      Array.from({ length: FILTERS }, (_, i) => FlowFilter.fromPartial(make(i))),
    ]),
  );
  let compileMs = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const start = performance.now();
    compileFlowFilters(lists['address_port']!, []);
    compileMs = Math.min(compileMs, performance.now() - start);
  }
  const one = nsPerFlow(compileFlowFilters([FlowFilter.fromPartial({ destinationPort: ['1000', '1013'] })], []), held);
  const each = Object.fromEntries(
    Object.entries(lists).map(([name, list]) => [name, nsPerFlow(compileFlowFilters(list, []), held)]),
  );
  const ns = (n: number) => n.toFixed(0);
  log(
    `filters: ${FILTERS} per request: address+port ${ns(each['address_port']!)} ns a flow, CIDR ${ns(each['cidr']!)}, ` +
      `port ${ns(each['port']!)}; one filter (reference) ${ns(one)}; compiling ${FILTERS} ${compileMs.toFixed(1)} ms`,
  );
  return {
    filters1_ns_per_flow: Math.round(one),
    filters5000_address_port_ns_per_flow: Math.round(each['address_port']!),
    filters5000_cidr_ns_per_flow: Math.round(each['cidr']!),
    filters5000_port_ns_per_flow: Math.round(each['port']!),
    filters5000_compile_ms: Math.round(compileMs * 10) / 10,
  };
}

if (process.argv[1] === import.meta.filename) benchFilters((line) => process.stdout.write(line + '\n'));

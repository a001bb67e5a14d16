// The service map's model: flows aggregated into nodes (workloads, pods, reserved identities, addresses) and edges
// (client to server, with protocols, ports, counts by verdict). Plain data, no DOM: the view draws what this holds.
import type { FlowRow, MapEndpoint } from '../src/ui/wire.js';

export interface MapNode {
  id: string;
  label: string;
  kind: MapEndpoint['kind'];
  namespace: string;
  /** Flows from or to it. */
  flows: number;
}

export interface MapEdge {
  /** `${from} -> ${to}` */
  id: string;
  from: string;
  to: string;
  /** Protocol to the server ports seen with it (an empty set for protocols without ports). */
  protocols: Map<string, Set<number>>;
  total: number;
  forwarded: number;
  dropped: number;
  other: number;
}

/** Nodes the map holds at most: past this, flows between unseen endpoints are only counted (and the page says so). */
export const MAX_MAP_NODES = 400;
/** Ports listed on an edge at most, per protocol. */
const MAX_PORTS = 16;

export function edgeId(from: string, to: string): string {
  return `${from} -> ${to}`;
}

/** How an edge is coloured: dropped flows make it red; otherwise forwarded green, anything else amber. */
export function edgeVerdict(e: MapEdge): 'dropped' | 'forwarded' | 'other' {
  if (e.dropped > 0) return 'dropped';
  if (e.forwarded > 0) return 'forwarded';
  return 'other';
}

/** "TCP 443, 8443 · UDP 53": what the edge carries, as its label shows it. */
export function edgeProtocols(e: MapEdge): string {
  const parts: string[] = [];
  for (const [protocol, ports] of e.protocols) {
    const list = [...ports].sort((a, b) => a - b);
    parts.push(list.length === 0 ? protocol || 'other' : `${protocol} ${list.join(', ')}`);
  }
  return parts.join(' · ');
}

export class ServiceMapModel {
  readonly nodes = new Map<string, MapNode>();
  readonly edges = new Map<string, MapEdge>();
  /** Changes whenever a node or edge is added (the layout must run again). */
  structureVersion = 0;
  /** Changes whenever anything changes (labels and colours are redrawn). */
  version = 0;
  /** Flows whose endpoints did not fit under MAX_MAP_NODES. */
  leftOut = 0;

  clear(): void {
    this.nodes.clear();
    this.edges.clear();
    this.leftOut = 0;
    this.structureVersion++;
    this.version++;
  }

  private node(ep: MapEndpoint): MapNode | undefined {
    let n = this.nodes.get(ep.id);
    if (n === undefined) {
      if (this.nodes.size >= MAX_MAP_NODES) return undefined;
      n = { id: ep.id, label: ep.label, kind: ep.kind, namespace: ep.namespace, flows: 0 };
      this.nodes.set(ep.id, n);
      this.structureVersion++;
    }
    return n;
  }

  add(row: FlowRow): void {
    const { from, to, protocol, port } = row.edge;
    const a = this.node(from);
    const b = this.node(to);
    this.version++;
    if (a === undefined || b === undefined) {
      this.leftOut++;
      return;
    }
    a.flows++;
    if (b !== a) b.flows++;
    const id = edgeId(from.id, to.id);
    let e = this.edges.get(id);
    if (e === undefined) {
      e = { id, from: from.id, to: to.id, protocols: new Map(), total: 0, forwarded: 0, dropped: 0, other: 0 };
      this.edges.set(id, e);
      this.structureVersion++;
    }
    e.total++;
    e[row.tone]++;
    let ports = e.protocols.get(protocol);
    if (ports === undefined) e.protocols.set(protocol, (ports = new Set()));
    if (port !== 0 && ports.size < MAX_PORTS) ports.add(port);
  }
}

/** What a click on the map selects: the flows of a node (either side) or of an edge. */
export type MapSelection = { kind: 'node'; id: string; label: string } | { kind: 'edge'; id: string; label: string };

export function selects(selection: MapSelection, row: FlowRow): boolean {
  if (selection.kind === 'node') return row.edge.from.id === selection.id || row.edge.to.id === selection.id;
  return edgeId(row.edge.from.id, row.edge.to.id) === selection.id;
}

// The service map drawn: d3-force lays nodes out and keeps laying them out as the map grows while following (existing
// nodes keep their places, new ones settle in), SVG draws them (real elements: titles, keyboard focus, CSS colours,
// no inline styles under the page's CSP), d3-zoom pans and zooms, d3-drag pins a node where it is put.
import { drag } from 'd3-drag';
import {
  forceCollide,
  forceLink,
  forceManyBody,
  forceSimulation,
  forceX,
  forceY,
  type Simulation,
  type SimulationLinkDatum,
  type SimulationNodeDatum,
} from 'd3-force';
import { select } from 'd3-selection';
import { countOf } from './dom.js';
import { zoom, zoomIdentity, type ZoomBehavior } from 'd3-zoom';
import {
  edgeProtocols,
  edgeVerdict,
  type MapEdge,
  type MapNode,
  type MapSelection,
  type ServiceMapModel,
} from './serviceMap.js';

interface SimNode extends SimulationNodeDatum {
  id: string;
  node: MapNode;
}

interface SimLink extends SimulationLinkDatum<SimNode> {
  id: string;
  edge: MapEdge;
  source: SimNode;
  target: SimNode;
  /** A link the other way exists too: both bend apart. */
  twin: boolean;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const NODE_RADIUS = 18;
/** Namespace colours (CSS classes ns-0 .. ns-7), assigned in order of appearance. */
const PALETTE_SIZE = 8;
/** Layout work per animation frame at least, leaving the rest of the frame to drawing and to the flow table. */
const LAYOUT_BUDGET_MS = 10;
/** About half an edge label's width ("TCP 5432 · UDP 53 (12)"), kept in view when the map is fitted. */
const LABEL_HALF_WIDTH = 70;
/** Beyond this many edges their labels are not drawn (unreadable, and the costliest to lay out); titles keep them. */
const LABELLED_EDGES_MAX = 200;

export class MapView {
  readonly svg: SVGSVGElement;
  private readonly root: SVGGElement;
  private readonly linkLayer: SVGGElement;
  private readonly nodeLayer: SVGGElement;
  private readonly zoomBehavior: ZoomBehavior<SVGSVGElement, unknown>;
  private readonly simulation: Simulation<SimNode, SimLink>;
  private readonly simNodes = new Map<string, SimNode>();
  private readonly simLinks = new Map<string, SimLink>();
  private readonly namespaceColours = new Map<string, number>();
  private structureVersion = -1;
  private version = -1;
  /** The person has zoomed or panned: the map no longer fits itself to what it holds. */
  private userMoved = false;
  private selected: string | undefined;
  private frame: number | undefined;
  /** How long the last drawing of the layout took. */
  private drawMs = 0;

  constructor(
    container: HTMLElement,
    private readonly onSelect: (selection: MapSelection | undefined) => void,
  ) {
    this.svg = document.createElementNS(SVG_NS, 'svg');
    this.svg.setAttribute('class', 'map');
    this.svg.setAttribute('role', 'img');
    this.svg.setAttribute('aria-label', 'service map');
    const defs = document.createElementNS(SVG_NS, 'defs');
    for (const verdict of ['forwarded', 'dropped', 'other']) {
      const marker = document.createElementNS(SVG_NS, 'marker');
      marker.setAttribute('id', `arrow-${verdict}`);
      marker.setAttribute('viewBox', '0 -5 10 10');
      marker.setAttribute('refX', '10');
      // Fixed size: an arrowhead scaled with a busy edge's width would hide the node it points at.
      marker.setAttribute('markerUnits', 'userSpaceOnUse');
      marker.setAttribute('markerWidth', '12');
      marker.setAttribute('markerHeight', '12');
      marker.setAttribute('orient', 'auto');
      const path = document.createElementNS(SVG_NS, 'path');
      path.setAttribute('d', 'M0,-5L10,0L0,5');
      path.setAttribute('class', `arrowhead ${verdict}`);
      marker.append(path);
      defs.append(marker);
    }
    this.root = document.createElementNS(SVG_NS, 'g');
    this.linkLayer = document.createElementNS(SVG_NS, 'g');
    this.nodeLayer = document.createElementNS(SVG_NS, 'g');
    this.root.append(this.linkLayer, this.nodeLayer);
    this.svg.append(defs, this.root);
    container.append(this.svg);

    this.zoomBehavior = zoom<SVGSVGElement, unknown>()
      .scaleExtent([0.05, 6])
      .on('zoom', (event: { transform: { toString(): string }; sourceEvent: unknown }) => {
        if (event.sourceEvent) this.userMoved = true;
        this.root.setAttribute('transform', event.transform.toString());
      });
    select(this.svg).call(this.zoomBehavior).on('dblclick.zoom', null);
    this.svg.addEventListener('click', (e) => {
      if (e.target === this.svg) this.select(undefined);
    });

    this.simulation = forceSimulation<SimNode, SimLink>([])
      .force(
        'link',
        forceLink<SimNode, SimLink>([])
          .id((d) => d.id)
          .distance(210),
      )
      .force('charge', forceManyBody<SimNode>().strength(-900))
      .force('collide', forceCollide<SimNode>(NODE_RADIUS * 3.5))
      .force('x', forceX<SimNode>(0).strength(0.04))
      .force('y', forceY<SimNode>(0).strength(0.04))
      .stop();
  }

  /**
   * Warms the layout up to `alpha` and lays it out frame by frame: as many steps as fit in a frame's budget, then one
   * drawing (d3's own timer draws every step: hundreds of nodes then cost seconds of frames), fitted to the panel
   * until the person zooms or pans; it stops once the layout has settled.
   */
  private kick(alpha: number): void {
    delete this.svg.dataset['settled'];
    this.simulation.alpha(Math.max(this.simulation.alpha(), alpha));
    this.frame ??= requestAnimationFrame(this.step);
  }

  private readonly step = (): void => {
    this.frame = undefined;
    const sim = this.simulation;
    // At least as long laying out as drawing took: a big map's drawing, not its layout, would set the pace.
    const until = performance.now() + Math.max(LAYOUT_BUDGET_MS, this.drawMs);
    do sim.tick();
    while (sim.alpha() >= sim.alphaMin() && performance.now() < until);
    const drawStart = performance.now();
    this.tick();
    if (!this.userMoved) this.fit();
    this.drawMs = performance.now() - drawStart;
    if (sim.alpha() >= sim.alphaMin()) this.frame = requestAnimationFrame(this.step);
    else this.svg.dataset['settled'] = 'true';
  };

  /** The namespace's colour class ("" outside namespaces). */
  private colourOf(namespace: string): string {
    if (namespace === '') return '';
    let c = this.namespaceColours.get(namespace);
    if (c === undefined) {
      c = this.namespaceColours.size % PALETTE_SIZE;
      this.namespaceColours.set(namespace, c);
    }
    return ` ns-${c}`;
  }

  /** Draws what `model` holds now; cheap when nothing changed, re-runs the layout only when nodes or edges were added. */
  render(model: ServiceMapModel): void {
    if (model.version === this.version) return;
    this.version = model.version;
    const structural = model.structureVersion !== this.structureVersion;
    this.structureVersion = model.structureVersion;
    if (structural) this.rebuild(model);
    this.refresh();
  }

  private rebuild(model: ServiceMapModel): void {
    if (model.nodes.size === 0) {
      this.simNodes.clear();
      this.simLinks.clear();
      this.linkLayer.replaceChildren();
      this.nodeLayer.replaceChildren();
      this.simulation.nodes([]);
      this.svg.dataset['settled'] = 'true';
      this.userMoved = false;
      select(this.svg).call(this.zoomBehavior.transform, zoomIdentity);
      return;
    }
    // What the model no longer holds (it was cleared for another query) goes; what it still holds keeps its place.
    for (const [id, link] of this.simLinks) {
      if (model.edges.get(id) === link.edge) continue;
      this.simLinks.delete(id);
      this.linkLayer.querySelector(`:scope > [data-id="${CSS.escape(id)}"]`)?.remove();
    }
    for (const [id, sim] of this.simNodes) {
      if (model.nodes.get(id) === sim.node) continue;
      this.simNodes.delete(id);
      this.nodeLayer.querySelector(`:scope > [data-id="${CSS.escape(id)}"]`)?.remove();
    }
    for (const node of model.nodes.values()) {
      if (this.simNodes.has(node.id)) continue;
      // A new node starts next to a neighbour that is already placed, so it settles in without shaking the rest.
      let near: SimNode | undefined;
      for (const e of model.edges.values()) {
        const other = e.from === node.id ? e.to : e.to === node.id ? e.from : undefined;
        if (other !== undefined && this.simNodes.has(other)) near = this.simNodes.get(other);
        if (near !== undefined) break;
      }
      const angle = Math.random() * 2 * Math.PI;
      const sim: SimNode = {
        id: node.id,
        node,
        x: (near?.x ?? 0) + 60 * Math.cos(angle),
        y: (near?.y ?? 0) + 60 * Math.sin(angle),
      };
      this.simNodes.set(node.id, sim);
      this.nodeLayer.append(this.nodeElement(sim));
    }
    for (const edge of model.edges.values()) {
      if (this.simLinks.has(edge.id)) continue;
      const link: SimLink = {
        id: edge.id,
        edge,
        source: this.simNodes.get(edge.from)!,
        target: this.simNodes.get(edge.to)!,
        twin: false,
      };
      this.simLinks.set(edge.id, link);
      this.linkLayer.append(this.edgeElement(link));
    }
    for (const link of this.simLinks.values()) {
      link.twin = this.simLinks.has(`${link.edge.to} -> ${link.edge.from}`);
    }
    this.simulation.nodes([...this.simNodes.values()]);
    (this.simulation.force('link') as ReturnType<typeof forceLink<SimNode, SimLink>>).links([
      ...this.simLinks.values(),
    ]);
    this.svg.classList.toggle('dense', this.simLinks.size > LABELLED_EDGES_MAX);
    this.kick(0.6);
  }

  private nodeElement(sim: SimNode): SVGGElement {
    const g = document.createElementNS(SVG_NS, 'g');
    g.setAttribute('class', `map-node kind-${sim.node.kind}${this.colourOf(sim.node.namespace)}`);
    g.dataset['id'] = sim.id;
    g.setAttribute('tabindex', '0');
    g.setAttribute('role', 'button');
    const title = document.createElementNS(SVG_NS, 'title');
    const circle = document.createElementNS(SVG_NS, 'circle');
    circle.setAttribute('r', String(NODE_RADIUS));
    const label = document.createElementNS(SVG_NS, 'text');
    label.setAttribute('class', 'node-label');
    label.setAttribute('y', String(NODE_RADIUS + 14));
    label.textContent = sim.node.label;
    g.append(title, circle, label);
    if (sim.node.namespace !== '') {
      const ns = document.createElementNS(SVG_NS, 'text');
      ns.setAttribute('class', 'node-namespace');
      ns.setAttribute('y', String(NODE_RADIUS + 27));
      ns.textContent = sim.node.namespace;
      g.append(ns);
    }
    const choose = () => this.select({ kind: 'node', id: sim.id, label: sim.node.label });
    g.addEventListener('click', (e) => {
      e.stopPropagation();
      choose();
    });
    g.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') choose();
    });
    select<SVGGElement, unknown>(g).call(
      drag<SVGGElement, unknown>()
        .on('start', () => {
          sim.fx = sim.x;
          sim.fy = sim.y;
        })
        .on('drag', (event: { x: number; y: number }) => {
          sim.fx = event.x;
          sim.fy = event.y;
          this.kick(0.2);
        }),
    );
    return g;
  }

  private edgeElement(link: SimLink): SVGGElement {
    const g = document.createElementNS(SVG_NS, 'g');
    g.setAttribute('class', 'map-edge');
    g.dataset['id'] = link.id;
    g.dataset['from'] = link.edge.from;
    g.dataset['to'] = link.edge.to;
    g.setAttribute('tabindex', '0');
    g.setAttribute('role', 'button');
    const title = document.createElementNS(SVG_NS, 'title');
    const line = document.createElementNS(SVG_NS, 'path');
    line.setAttribute('class', 'edge-line');
    const hit = document.createElementNS(SVG_NS, 'path');
    hit.setAttribute('class', 'edge-hit');
    const label = document.createElementNS(SVG_NS, 'text');
    label.setAttribute('class', 'edge-label');
    g.append(title, line, hit, label);
    const choose = () =>
      this.select({
        kind: 'edge',
        id: link.id,
        label: `${link.source.node.label} → ${link.target.node.label}`,
      });
    g.addEventListener('click', (e) => {
      e.stopPropagation();
      choose();
    });
    g.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') choose();
    });
    return g;
  }

  /** Labels, counts, colours and titles: what changes with every flow. */
  private refresh(): void {
    for (const g of this.linkLayer.children as HTMLCollectionOf<SVGGElement>) {
      const link = this.simLinks.get(g.dataset['id']!);
      if (link === undefined) continue;
      const e = link.edge;
      // Only what changed: with a thousand edges, rewriting every label on every flow keeps the page busy.
      const stamp = `${e.total}/${e.dropped}/${this.selected === link.id}`;
      if (g.dataset['stamp'] === stamp) continue;
      g.dataset['stamp'] = stamp;
      const verdict = edgeVerdict(e);
      const protocols = edgeProtocols(e);
      g.dataset['verdict'] = verdict;
      g.dataset['protocols'] = protocols;
      g.dataset['flows'] = String(e.total);
      g.setAttribute('class', `map-edge ${verdict}${this.selected === link.id ? ' selected' : ''}`);
      const [title, line, , label] = g.children;
      line!.setAttribute('marker-end', `url(#arrow-${verdict})`);
      line!.setAttribute('stroke-width', String(1.5 + Math.min(4, Math.log10(e.total))));
      const dropped = e.dropped > 0 ? `, ${e.dropped} dropped` : '';
      label!.textContent = `${protocols} (${e.total}${dropped})`;
      title!.textContent =
        `${link.source.node.id} → ${link.target.node.id}\n${protocols}\n` +
        `${countOf(e.total, 'flow')}: ${e.forwarded} forwarded, ${e.dropped} dropped, ${e.other} other`;
    }
    for (const g of this.nodeLayer.children as HTMLCollectionOf<SVGGElement>) {
      const sim = this.simNodes.get(g.dataset['id']!);
      if (sim === undefined) continue;
      const stamp = `${sim.node.flows}/${this.selected === sim.id}`;
      if (g.dataset['stamp'] === stamp) continue;
      g.dataset['stamp'] = stamp;
      g.dataset['flows'] = String(sim.node.flows);
      g.classList.toggle('selected', this.selected === sim.id);
      g.firstElementChild!.textContent = `${sim.node.id} (${sim.node.kind})\n${countOf(sim.node.flows, 'flow')}`;
    }
  }

  private tick(): void {
    for (const g of this.nodeLayer.children as HTMLCollectionOf<SVGGElement>) {
      const sim = this.simNodes.get(g.dataset['id']!);
      if (sim !== undefined) g.setAttribute('transform', `translate(${sim.x!.toFixed(1)},${sim.y!.toFixed(1)})`);
    }
    const labelled = this.simLinks.size <= LABELLED_EDGES_MAX;
    for (const g of this.linkLayer.children as HTMLCollectionOf<SVGGElement>) {
      const link = this.simLinks.get(g.dataset['id']!);
      if (link === undefined) continue;
      const [, line, hit, label] = g.children;
      const { d, mx, my, anchor } = edgePath(link);
      line!.setAttribute('d', d);
      hit!.setAttribute('d', d);
      if (!labelled) continue;
      label!.setAttribute('x', mx.toFixed(1));
      label!.setAttribute('y', my.toFixed(1));
      label!.setAttribute('text-anchor', anchor);
    }
  }

  select(selection: MapSelection | undefined): void {
    this.selected = selection?.id;
    this.version = -1;
    this.refresh();
    this.onSelect(selection);
  }

  /** Zooms so that every node is in view. */
  fit(): void {
    const nodes = [...this.simNodes.values()];
    const width = this.svg.clientWidth;
    const height = this.svg.clientHeight;
    if (nodes.length === 0 || width === 0 || height === 0) return;
    const xs = nodes.map((n) => n.x!);
    const ys = nodes.map((n) => n.y!);
    // Edge labels too (a bent edge's sits off the line between its nodes), about as wide as their text, where drawn.
    if (this.simLinks.size <= LABELLED_EDGES_MAX) {
      for (const link of this.simLinks.values()) {
        const { mx, my } = edgePath(link);
        xs.push(mx - LABEL_HALF_WIDTH, mx + LABEL_HALF_WIDTH);
        ys.push(my);
      }
    }
    const pad = NODE_RADIUS * 4;
    const [x0, x1] = [Math.min(...xs) - pad, Math.max(...xs) + pad];
    const [y0, y1] = [Math.min(...ys) - pad, Math.max(...ys) + pad];
    const scale = Math.min(1.5, width / (x1 - x0), height / (y1 - y0));
    const t = zoomIdentity
      .translate(width / 2, height / 2)
      .scale(scale)
      .translate(-(x0 + x1) / 2, -(y0 + y1) / 2);
    select(this.svg).call(this.zoomBehavior.transform, t);
    this.userMoved = false;
  }

  zoomBy(factor: number): void {
    this.userMoved = true;
    select(this.svg).call(this.zoomBehavior.scaleBy, factor);
  }
}

/**
 * A line from circle edge to circle edge, bent when a link the other way exists (so both stay visible); the label sits
 * at its middle, or beside the bend, growing away from the twin's label.
 */
function edgePath(link: SimLink): { d: string; mx: number; my: number; anchor: 'start' | 'middle' | 'end' } {
  const sx = link.source.x!;
  const sy = link.source.y!;
  const tx = link.target.x!;
  const ty = link.target.y!;
  if (link.source === link.target) {
    // A node talking to itself (world to world): a loop above it.
    const r = NODE_RADIUS;
    return {
      d: `M${sx - r * 0.6},${sy - r * 0.8} C${sx - r * 2.5},${sy - r * 4} ${sx + r * 2.5},${sy - r * 4} ${sx + r * 0.6},${sy - r * 0.8}`,
      mx: sx,
      my: sy - r * 3.2,
      anchor: 'middle',
    };
  }
  const dx = tx - sx;
  const dy = ty - sy;
  const len = Math.hypot(dx, dy) || 1;
  const ux = dx / len;
  const uy = dy / len;
  const bend = link.twin ? Math.max(30, 0.25 * len) : 0;
  // The control point sits off the middle, to the right of the direction of travel.
  const cx = (sx + tx) / 2 - uy * bend;
  const cy = (sy + ty) / 2 + ux * bend;
  const start = towards(sx, sy, cx, cy, NODE_RADIUS);
  const end = towards(tx, ty, cx, cy, NODE_RADIUS + 2);
  const d = `M${start.x.toFixed(1)},${start.y.toFixed(1)} Q${cx.toFixed(1)},${cy.toFixed(1)} ${end.x.toFixed(1)},${end.y.toFixed(1)}`;
  const apexX = (start.x + 2 * cx + end.x) / 4;
  const apexY = (start.y + 2 * cy + end.y) / 4;
  if (!link.twin) return { d, mx: apexX, my: apexY - 4, anchor: 'middle' };
  // The bend's direction (the normal to the right of travel): the label goes further that way.
  const nx = -uy;
  const ny = ux;
  const anchor = nx > 0.35 ? 'start' : nx < -0.35 ? 'end' : 'middle';
  return { d, mx: apexX + nx * 8, my: apexY + ny * 8 + (ny > 0.35 ? 10 : ny < -0.35 ? -2 : 4), anchor };
}

function towards(x: number, y: number, tx: number, ty: number, by: number): { x: number; y: number } {
  const len = Math.hypot(tx - x, ty - y) || 1;
  return { x: x + ((tx - x) / len) * by, y: y + ((ty - y) / len) * by };
}

// The page: asks who it talks to (/api/info, or the token first), then runs one flow stream for the map and the
// table (filter flags, namespace, follow), applies what arrives once per animation frame, and switches between the
// views. The address bar keeps the view and the query, so a reload or a shared link shows the same thing.
import type { FlowRow, FlowsBatch, NamespaceInfo, StatusInfo, UiInfo } from '../src/ui/wire.js';
import { ApiError, getJson, send, streamFlows } from './api.js';
import { byId, countOf, element, formatCount, formatDuration } from './dom.js';
import { FlowTable, RowStore } from './flowTable.js';
import { MapView } from './mapView.js';
import { NodesView } from './nodesView.js';
import { RecordingsView } from './recordingsView.js';
import { selects, ServiceMapModel, type MapSelection } from './serviceMap.js';

type View = 'map' | 'flows' | 'recordings' | 'nodes';
const VIEWS: readonly View[] = ['map', 'flows', 'recordings', 'nodes'];
const STATUS_POLL_MS = 5000;

interface Query {
  view: View;
  filter: string;
  follow: boolean;
  namespace: string;
}

function readHash(): Query {
  const p = new URLSearchParams(location.hash.slice(1));
  const view = p.get('view') as View | null;
  return {
    view: view !== null && VIEWS.includes(view) ? view : 'map',
    filter: p.get('filter') ?? '',
    follow: p.get('follow') !== '0',
    namespace: p.get('namespace') ?? '',
  };
}

function writeHash(q: Query): void {
  const p = new URLSearchParams({ view: q.view });
  if (q.filter !== '') p.set('filter', q.filter);
  if (!q.follow) p.set('follow', '0');
  if (q.namespace !== '') p.set('namespace', q.namespace);
  history.replaceState(null, '', `#${p}`);
}

class App {
  private readonly store: RowStore;
  private readonly model = new ServiceMapModel();
  private readonly map: MapView;
  private readonly table: FlowTable;
  private readonly recordings: RecordingsView;
  private readonly nodes: NodesView;
  private query: Query = readHash();
  private stream: AbortController | undefined;
  private counters = { received: 0, dropped: 0, lost: 0 };
  private streamState: 'starting' | 'following' | 'complete' | 'failed' = 'starting';
  /** Whether the stream follows, as the server planned it (the Follow switch, or a typed --follow or --first). */
  private follows = false;
  private frameRequested = false;
  private selected: FlowRow | undefined;

  constructor(private readonly info: UiInfo) {
    document.title = `hubble-ts · ${info.name}`;
    byId('server-name').textContent = `${info.mode === 'relay' ? 'Hubble Relay' : 'node'} ${info.name}`;
    this.store = new RowStore(info.defaultLast);
    this.map = new MapView(byId('map'), (selection) => this.openSelection(selection));
    this.table = new FlowTable(byId('flow-table'), this.store, info.mode === 'relay', (row) => this.showDetail(row));
    this.recordings = new RecordingsView(byId('view-recordings'));
    this.nodes = new NodesView(byId('view-nodes'), (node) => {
      this.query.filter = `--node-name ${node}`;
      byId<HTMLInputElement>('filter').value = this.query.filter;
      this.show('flows');
      this.restart();
    });
    if (!info.recorder.enabled) {
      const notice = byId('rec-disabled');
      notice.textContent = `Recordings are not offered here: ${info.recorder.reason}.`;
      notice.hidden = false;
      byId('rec-form').hidden = true;
      byId('rec-list').hidden = true;
    }
    this.wire();
    this.help();
    byId('query').hidden = false;
    byId<HTMLInputElement>('filter').value = this.query.filter;
    byId<HTMLInputElement>('follow').checked = this.query.follow;
    this.show(this.query.view);
    void this.loadNamespaces();
    void this.pollStatus();
    this.restart();
  }

  private wire(): void {
    for (const view of VIEWS) byId(`tab-${view}`).addEventListener('click', () => this.show(view));
    byId<HTMLFormElement>('filter-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.query.filter = byId<HTMLInputElement>('filter').value.trim();
      this.query.follow = byId<HTMLInputElement>('follow').checked;
      this.restart();
    });
    byId<HTMLInputElement>('follow').addEventListener('change', (e) => {
      this.query.follow = (e.target as HTMLInputElement).checked;
      this.restart();
    });
    byId<HTMLSelectElement>('namespace').addEventListener('change', (e) => {
      this.query.namespace = (e.target as HTMLSelectElement).value;
      this.restart();
    });
    byId('zoom-in').addEventListener('click', () => this.map.zoomBy(1.4));
    byId('zoom-out').addEventListener('click', () => this.map.zoomBy(1 / 1.4));
    byId('zoom-fit').addEventListener('click', () => this.map.fit());
    byId('selection-clear').addEventListener('click', () => this.map.select(undefined));
    byId('detail-close').addEventListener('click', () => this.table.select(undefined));
    byId('detail-copy').addEventListener('click', () => {
      if (this.selected !== undefined) void navigator.clipboard?.writeText(this.selected.json);
    });
    // A link pasted or edited in the address bar: its view, and its query when that changed.
    window.addEventListener('hashchange', () => {
      const q = readHash();
      if (q.view !== this.query.view) this.show(q.view);
      if (q.filter === this.query.filter && q.follow === this.query.follow && q.namespace === this.query.namespace)
        return;
      this.query = { ...q, view: this.query.view };
      byId<HTMLInputElement>('filter').value = this.query.filter;
      byId<HTMLInputElement>('follow').checked = this.query.follow;
      byId<HTMLSelectElement>('namespace').value = this.query.namespace;
      this.restart();
    });
  }

  private help(): void {
    const list = byId('filter-help');
    for (const f of this.info.filterFlags) {
      const name = `${f.short !== undefined ? `-${f.short}, ` : ''}--${f.name}${f.boolean ? '' : ' VALUE'}`;
      list.append(element('dt', { textContent: name }), element('dd', { textContent: f.description }));
    }
  }

  private show(view: View): void {
    this.query.view = view;
    writeHash(this.query);
    for (const v of VIEWS) {
      byId(`view-${v}`).hidden = v !== view;
      const tab = byId(`tab-${v}`);
      tab.setAttribute('aria-selected', String(v === view));
      tab.classList.toggle('active', v === view);
    }
    byId('query').classList.toggle('inactive', view === 'recordings' || view === 'nodes');
    this.recordings.show(view === 'recordings' && this.info.recorder.enabled);
    this.nodes.show(view === 'nodes');
    if (view === 'map') {
      this.map.render(this.model);
      this.map.fit();
    }
    this.requestFrame();
  }

  /** Starts the flow stream over for the current query: the map and table start empty. */
  private restart(): void {
    writeHash(this.query);
    this.stream?.abort();
    const stream = new AbortController();
    this.stream = stream;
    this.store.clear();
    this.model.clear();
    this.map.select(undefined);
    this.table.select(undefined);
    this.counters = { received: 0, dropped: 0, lost: 0 };
    this.streamState = 'starting';
    byId('query-error').textContent = '';
    byId('node-notice').textContent = '';
    // At once, not at the next frame: whoever watches the state must never read the previous stream's.
    this.frame();
    const params = new URLSearchParams({ filter: this.query.filter, follow: this.query.follow ? '1' : '0' });
    if (this.query.namespace !== '') params.set('namespace', this.query.namespace);
    streamFlows(
      params,
      {
        started: (follows) => {
          this.follows = follows;
        },
        flows: (batch) => this.receive(batch),
        nodes: (s) => {
          byId('node-notice').textContent =
            `${s.nodes.join(', ')}: ${s.state.replace(/^NODE_/, '').toLowerCase()}${s.message ? ` (${s.message})` : ''}`;
        },
        end: (end) => {
          this.streamState = end.error === undefined ? 'complete' : 'failed';
          if (end.error !== undefined) byId('query-error').textContent = end.error;
          this.frame();
        },
      },
      stream.signal,
    ).catch((err: unknown) => {
      if (stream.signal.aborted) return;
      this.streamState = 'failed';
      byId('query-error').textContent = (err as Error).message;
      this.frame();
    });
  }

  private receive(batch: FlowsBatch): void {
    if (this.streamState === 'starting') this.streamState = this.follows ? 'following' : 'complete';
    // Aggregating is a few map lookups a flow; drawing waits for the next frame.
    this.store.push(batch.flows);
    for (const row of batch.flows) this.model.add(row);
    this.counters.received += batch.flows.length;
    this.counters.dropped = batch.dropped;
    this.counters.lost = batch.lost;
    this.requestFrame();
  }

  private requestFrame(): void {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      this.frame();
    });
  }

  /** Everything drawn, once per frame: the visible view and the stream's counters. */
  private frame(): void {
    if (this.query.view === 'map') this.map.render(this.model);
    if (this.query.view === 'flows') this.table.render();
    const c = this.counters;
    const state = byId('stream-state');
    const what =
      this.streamState === 'starting'
        ? 'starting…'
        : this.streamState === 'following'
          ? 'following'
          : this.streamState === 'complete'
            ? this.follows
              ? 'stopped'
              : 'complete'
            : 'failed';
    const parts = [`${what} · ${countOf(c.received, 'flow')}`];
    if (c.received > this.store.capacity) parts.push(`table keeps the last ${formatCount(this.store.capacity)}`);
    state.replaceChildren(parts.join(' · '));
    if (c.dropped > 0) {
      state.append(
        ' · ',
        element('span', {
          className: 'dropped',
          id: 'dropped-count',
          textContent: `${formatCount(c.dropped)} dropped (this page read too slowly)`,
        }),
      );
    }
    if (c.lost > 0) {
      state.append(
        ' · ',
        element('span', { className: 'lost', textContent: `${formatCount(c.lost)} lost by the server` }),
      );
    }
    state.dataset['received'] = String(c.received);
    state.dataset['dropped'] = String(c.dropped);
    state.dataset['state'] = what;
    const summary = `${countOf(this.model.nodes.size, 'node')} · ${countOf(this.model.edges.size, 'edge')}`;
    byId('map-summary').textContent =
      this.model.leftOut > 0
        ? `${summary} · ${countOf(this.model.leftOut, 'flow')} not drawn (too many nodes)`
        : summary;
  }

  private openSelection(selection: MapSelection | undefined): void {
    const chip = byId('selection');
    if (selection === undefined) {
      chip.hidden = true;
      this.table.setFilter(undefined);
      return;
    }
    byId('selection-label').textContent =
      selection.kind === 'node' ? `Flows from or to ${selection.label}` : `Flows ${selection.label}`;
    chip.hidden = false;
    chip.dataset['kind'] = selection.kind;
    this.table.setFilter((row) => selects(selection, row));
    this.show('flows');
  }

  private showDetail(row: FlowRow | undefined): void {
    this.selected = row;
    const pane = byId('detail');
    pane.hidden = row === undefined;
    if (row === undefined) return;
    byId('detail-json').textContent = row.json;
    byId('detail-pretty').textContent = JSON.stringify(JSON.parse(row.json), null, 2);
  }

  private async loadNamespaces(): Promise<void> {
    try {
      const namespaces = await getJson<NamespaceInfo[]>('/api/namespaces');
      const select = byId<HTMLSelectElement>('namespace');
      const names = [...new Set(namespaces.map((n) => n.namespace))].sort();
      select.append(...names.map((n) => element('option', { value: n, textContent: n })));
      if (this.query.namespace !== '') {
        if (!names.includes(this.query.namespace)) {
          select.append(element('option', { value: this.query.namespace, textContent: this.query.namespace }));
        }
        select.value = this.query.namespace;
      }
    } catch (err) {
      byId('query-error').textContent = (err as Error).message;
    }
  }

  private async pollStatus(): Promise<void> {
    try {
      const s = await getJson<StatusInfo>('/api/status');
      const parts = [
        `${s.flowsRate.toFixed(1)} flows/s`,
        `${formatCount(s.numFlows)}/${formatCount(s.maxFlows)} in buffer`,
        `up ${formatDuration(s.uptimeSeconds)}`,
      ];
      if (s.connectedNodes !== undefined) {
        parts.push(
          `${countOf(s.connectedNodes, 'node')} connected${s.unavailableNodes ? `, ${s.unavailableNodes} unavailable` : ''}`,
        );
      }
      byId('server-status').textContent = parts.join(' · ');
    } catch (err) {
      byId('server-status').textContent = (err as Error).message;
    }
    window.setTimeout(() => void this.pollStatus(), STATUS_POLL_MS);
  }
}

/** Shows the token form; resolves once the server accepts a token. */
function login(): Promise<void> {
  const section = byId('login');
  section.hidden = false;
  const form = byId<HTMLFormElement>('login-form');
  return new Promise((resolve) => {
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const token = (form.elements.namedItem('token') as HTMLInputElement).value;
      send('POST', '/api/login', { token }).then(
        () => {
          section.hidden = true;
          resolve();
        },
        (err: unknown) => {
          byId('login-message').textContent = (err as Error).message;
        },
      );
    });
  });
}

async function boot(): Promise<void> {
  for (;;) {
    try {
      new App(await getJson<UiInfo>('/api/info'));
      return;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        await login();
        continue;
      }
      const box = byId('boot-error');
      box.textContent = (err as Error).message;
      box.hidden = false;
      return;
    }
  }
}

void boot();

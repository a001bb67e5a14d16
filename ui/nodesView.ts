// The nodes view: GetNodes as a table (on a relay, every node of the cluster with its state; on a node, itself),
// refreshed while open; a node's name opens its flows.
import type { NodeInfo } from '../src/ui/wire.js';
import { getJson } from './api.js';
import { element, formatCount, formatDuration } from './dom.js';

const POLL_MS = 5000;

export class NodesView {
  private readonly body: HTMLElement;
  private readonly message: HTMLElement;
  private timer: number | undefined;
  private visible = false;

  constructor(
    root: HTMLElement,
    private readonly onOpen: (node: string) => void,
  ) {
    this.body = root.querySelector<HTMLElement>('#nodes-list tbody')!;
    this.message = root.querySelector<HTMLElement>('#nodes-message')!;
    this.body.addEventListener('click', (e) => {
      const button = (e.target as HTMLElement).closest<HTMLButtonElement>('button[data-node]');
      if (button !== null) this.onOpen(button.dataset['node']!);
    });
  }

  show(visible: boolean): void {
    this.visible = visible;
    window.clearTimeout(this.timer);
    if (visible) void this.refresh();
  }

  private async refresh(): Promise<void> {
    window.clearTimeout(this.timer);
    try {
      const nodes = await getJson<NodeInfo[]>('/api/nodes');
      this.message.textContent = '';
      this.body.replaceChildren(
        ...nodes.map((n) => {
          const up = n.state === 'NODE_CONNECTED';
          return element('tr', { dataset: { node: n.name, state: n.state } }, [
            element('td', {}, [
              element('button', { type: 'button', className: 'link', textContent: n.name, dataset: { node: n.name } }),
            ]),
            element('td', {
              className: `state ${up ? 'up' : 'down'}`,
              textContent: n.state.replace(/^NODE_/, '').toLowerCase(),
            }),
            element('td', { textContent: n.address }),
            element('td', { textContent: n.tls ? 'yes' : 'no' }),
            element('td', { textContent: n.version }),
            element('td', { className: 'num', textContent: up ? formatDuration(n.uptimeSeconds) : '' }),
            element('td', {
              className: 'num',
              textContent: up ? `${formatCount(n.numFlows)} / ${formatCount(n.maxFlows)}` : '',
            }),
            element('td', { className: 'num', textContent: up ? formatCount(n.seenFlows) : '' }),
          ]);
        }),
      );
    } catch (err) {
      this.message.textContent = (err as Error).message;
    }
    if (this.visible) this.timer = window.setTimeout(() => void this.refresh(), POLL_MS);
  }
}

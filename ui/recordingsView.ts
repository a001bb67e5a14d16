// The recordings view: a 5-tuple form with limits to start a recording, and the store's recordings with their
// statistics moving while they run (polled once a second while the view is open), to stop, download and delete.
import type { RecordingFilterForm, RecordingInfo, StartRecordingForm } from '../src/ui/wire.js';
import { getJson, send } from './api.js';
import { element, formatBytes, formatCount } from './dom.js';

const POLL_MS = 1000;

export class RecordingsView {
  private readonly filters: HTMLElement;
  private readonly list: HTMLElement;
  private readonly message: HTMLElement;
  private timer: number | undefined;
  private visible = false;

  constructor(private readonly root: HTMLElement) {
    this.filters = root.querySelector<HTMLElement>('#rec-filters')!;
    this.list = root.querySelector<HTMLElement>('#rec-list tbody')!;
    this.message = root.querySelector<HTMLElement>('#rec-message')!;
    this.addFilter();
    root.querySelector('#rec-add-filter')!.addEventListener('click', () => this.addFilter());
    root.querySelector<HTMLFormElement>('#rec-form')!.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.start();
    });
    this.list.addEventListener('click', (e) => {
      const button = (e.target as HTMLElement).closest<HTMLButtonElement>('button[data-action]');
      if (button !== null) void this.act(button);
    });
  }

  show(visible: boolean): void {
    this.visible = visible;
    window.clearTimeout(this.timer);
    if (visible) void this.refresh();
  }

  private addFilter(): void {
    const row = element('div', { className: 'rec-filter' });
    const input = (name: string, label: string, value: string, type = 'text', width = '') =>
      element('label', {}, [
        element('span', { textContent: label }),
        element('input', { name, value, type, className: width, required: type === 'text', min: '0', max: '65535' }),
      ]);
    const protocol = element('select', { name: 'protocol' }, [
      element('option', { value: 'ANY', textContent: 'any' }),
      element('option', { value: 'TCP', textContent: 'TCP' }),
      element('option', { value: 'UDP', textContent: 'UDP' }),
      element('option', { value: 'SCTP', textContent: 'SCTP' }),
    ]);
    const remove = element('button', { type: 'button', className: 'link', textContent: 'remove' });
    remove.addEventListener('click', () => {
      if (this.filters.childElementCount > 1) row.remove();
    });
    row.append(
      input('sourceCidr', 'Source CIDR', '0.0.0.0/0'),
      input('sourcePort', 'Source port', '0', 'number', 'port'),
      input('destinationCidr', 'Destination CIDR', '0.0.0.0/0'),
      input('destinationPort', 'Destination port', '0', 'number', 'port'),
      element('label', {}, [element('span', { textContent: 'Protocol' }), protocol]),
      remove,
    );
    this.filters.append(row);
  }

  private form(): StartRecordingForm {
    const value = (scope: ParentNode, name: string) => scope.querySelector<HTMLInputElement>(`[name="${name}"]`)!.value;
    const number = (scope: ParentNode, name: string) => {
      const text = value(scope, name).trim();
      return text === '' ? 0 : Number(text);
    };
    const filters: RecordingFilterForm[] = [...this.filters.children].map((row) => ({
      sourceCidr: value(row, 'sourceCidr'),
      sourcePort: number(row, 'sourcePort'),
      destinationCidr: value(row, 'destinationCidr'),
      destinationPort: number(row, 'destinationPort'),
      protocol: value(row, 'protocol') as RecordingFilterForm['protocol'],
    }));
    const form = this.root.querySelector<HTMLFormElement>('#rec-form')!;
    return {
      filters,
      filePrefix: value(form, 'filePrefix'),
      maxCaptureLength: number(form, 'maxCaptureLength'),
      packets: number(form, 'packets'),
      bytes: number(form, 'bytes'),
      durationSeconds: number(form, 'durationSeconds'),
    };
  }

  private say(text: string, error = false): void {
    this.message.textContent = text;
    this.message.classList.toggle('error', error);
  }

  private async start(): Promise<void> {
    const button = this.root.querySelector<HTMLButtonElement>('#rec-start')!;
    button.disabled = true;
    try {
      const started = await send<{ name: string }>('POST', '/api/recordings', this.form());
      this.say(`Recording ${started!.name}`);
      await this.refresh();
    } catch (err) {
      this.say((err as Error).message, true);
    } finally {
      button.disabled = false;
    }
  }

  private async act(button: HTMLButtonElement): Promise<void> {
    const name = button.dataset['name']!;
    const path = `/api/recordings/${encodeURIComponent(name)}`;
    try {
      if (button.dataset['action'] === 'stop') {
        button.disabled = true;
        await send('POST', `${path}/stop`);
        this.say(`Stopped ${name}`);
      } else if (button.dataset['action'] === 'delete') {
        // Two clicks: the first asks, the second deletes.
        if (button.dataset['armed'] !== 'true') {
          button.dataset['armed'] = 'true';
          button.textContent = 'Really delete?';
          window.setTimeout(() => {
            button.dataset['armed'] = 'false';
            button.textContent = 'Delete';
          }, 4000);
          return;
        }
        button.dataset['armed'] = 'false';
        button.disabled = true;
        await send('DELETE', path);
        this.say(`Deleted ${name}`);
      }
    } catch (err) {
      this.say((err as Error).message, true);
    }
    await this.refresh();
  }

  private async refresh(): Promise<void> {
    window.clearTimeout(this.timer);
    try {
      const recordings = await getJson<RecordingInfo[]>('/api/recordings');
      this.draw(recordings);
    } catch (err) {
      this.say((err as Error).message, true);
    }
    if (this.visible) this.timer = window.setTimeout(() => void this.refresh(), POLL_MS);
  }

  private draw(recordings: RecordingInfo[]): void {
    // Newest first: the one just started is where the eye is.
    const rows = recordings
      .slice()
      .reverse()
      .map((r) => {
        const s = r.stats;
        const actions = element('td', { className: 'actions' }, [
          element('a', {
            href: `/api/recordings/${encodeURIComponent(r.name)}/download`,
            textContent: 'Download',
            className: 'button',
            download: r.name,
          }),
        ]);
        if (r.stoppable) {
          actions.prepend(
            element('button', { type: 'button', textContent: 'Stop', dataset: { action: 'stop', name: r.name } }),
          );
        }
        actions.append(
          element('button', { type: 'button', textContent: 'Delete', dataset: { action: 'delete', name: r.name } }),
        );
        const tr = element('tr', { dataset: { name: r.name, running: String(r.running) } }, [
          element('td', { className: 'name', textContent: r.name, title: r.filePath }),
          element('td', { textContent: r.running ? 'recording' : 'stopped', className: r.running ? 'running' : '' }),
          element('td', { textContent: r.created.replace('T', ' ').replace(/\.\d+Z$/, 'Z') }),
          element('td', { className: 'num packets', textContent: s ? formatCount(s.packetsCaptured) : '' }),
          element('td', { className: 'num bytes', textContent: s ? formatBytes(s.bytesCaptured) : '' }),
          element('td', { className: 'num lost', textContent: s ? formatCount(s.packetsLost) : '' }),
          element('td', { className: 'num size', textContent: formatBytes(r.size) }),
          actions,
        ]);
        return tr;
      });
    // Keep a delete button that waits for its second click.
    if (this.list.querySelector('[data-armed="true"]') !== null) return;
    this.list.replaceChildren(...rows);
    if (rows.length === 0) {
      this.list.append(
        element('tr', {}, [element('td', { colSpan: 8, className: 'empty', textContent: 'No recordings yet.' })]),
      );
    }
  }
}

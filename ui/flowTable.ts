// The flow table: the newest rows in a bounded store (the oldest go first), drawn as a virtual list (only the rows in
// view exist in the DOM, so 5,000 flows a second cost a few dozen text updates per frame), newest at the bottom as
// `hubble observe` prints them, and kept scrolled to the bottom while the person has not scrolled away.
import type { FlowRow } from '../src/ui/wire.js';

/** The newest `capacity` rows, oldest first. */
export class RowStore {
  private rows: FlowRow[] = [];
  private start = 0;
  /** Changes whenever rows come or go. */
  version = 0;

  constructor(readonly capacity: number) {}

  get length(): number {
    return this.rows.length - this.start;
  }

  push(batch: readonly FlowRow[]): void {
    if (batch.length === 0) return;
    this.rows.push(...(batch.length > this.capacity ? batch.slice(batch.length - this.capacity) : batch));
    if (this.length > this.capacity) this.start = this.rows.length - this.capacity;
    // Compact now and then rather than shift on every push.
    if (this.start > this.capacity) {
      this.rows = this.rows.slice(this.start);
      this.start = 0;
    }
    this.version++;
  }

  clear(): void {
    this.rows = [];
    this.start = 0;
    this.version++;
  }

  at(i: number): FlowRow {
    return this.rows[this.start + i]!;
  }

  filter(predicate: (row: FlowRow) => boolean): FlowRow[] {
    const out: FlowRow[] = [];
    for (let i = this.start; i < this.rows.length; i++) if (predicate(this.rows[i]!)) out.push(this.rows[i]!);
    return out;
  }

  all(): FlowRow[] {
    return this.rows.slice(this.start);
  }
}

const ROW_HEIGHT = 24;
/** Rows drawn beyond the visible ones, above and below, so fast scrolling does not show gaps. */
const OVERSCAN = 10;

type Column = { key: keyof FlowRow; title: string; relayOnly?: boolean };

const COLUMNS: readonly Column[] = [
  { key: 'time', title: 'Time' },
  { key: 'node', title: 'Node', relayOnly: true },
  { key: 'source', title: 'Source' },
  { key: 'arrow', title: '' },
  { key: 'destination', title: 'Destination' },
  { key: 'type', title: 'Type' },
  { key: 'verdict', title: 'Verdict' },
  { key: 'summary', title: 'Summary' },
];

export class FlowTable {
  private readonly scroller: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly body: HTMLElement;
  private readonly columns: readonly Column[];
  private view: FlowRow[] = [];
  private viewVersion = -1;
  private predicate: ((row: FlowRow) => boolean) | undefined;
  private selected: FlowRow | undefined;
  /** The person scrolled up: stop pulling the table to the newest row. */
  private pinnedToBottom = true;
  private drawn = '';

  constructor(
    container: HTMLElement,
    private readonly store: RowStore,
    relay: boolean,
    private readonly onSelect: (row: FlowRow | undefined) => void,
  ) {
    this.columns = COLUMNS.filter((c) => relay || !c.relayOnly);
    container.classList.toggle('with-node', relay);
    const header = document.createElement('div');
    header.className = 'flow-row flow-header';
    header.setAttribute('role', 'row');
    for (const c of this.columns) {
      const cell = document.createElement('span');
      cell.className = `cell col-${c.key}`;
      cell.setAttribute('role', 'columnheader');
      cell.textContent = c.title;
      header.append(cell);
    }
    this.scroller = document.createElement('div');
    this.scroller.className = 'flow-scroller';
    this.scroller.setAttribute('role', 'rowgroup');
    this.spacer = document.createElement('div');
    this.spacer.className = 'flow-spacer';
    this.body = document.createElement('div');
    this.body.className = 'flow-body';
    this.spacer.append(this.body);
    this.scroller.append(this.spacer);
    container.setAttribute('role', 'table');
    container.append(header, this.scroller);

    this.scroller.addEventListener('scroll', () => {
      const bottom = this.scroller.scrollHeight - this.scroller.clientHeight;
      this.pinnedToBottom = this.scroller.scrollTop >= bottom - ROW_HEIGHT;
      this.draw(true);
    });
    this.body.addEventListener('click', (e) => {
      const rowEl = (e.target as HTMLElement).closest<HTMLElement>('.flow-row');
      if (rowEl === null) return;
      const row = this.view[Number(rowEl.dataset['index'])];
      // Looking at a flow stops the table following the newest ones; scrolling to the bottom resumes it.
      if (row !== this.selected) this.pinnedToBottom = false;
      this.select(row === this.selected ? undefined : row);
    });
    this.scroller.tabIndex = 0;
    this.scroller.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
      e.preventDefault();
      const at = this.selected === undefined ? -1 : this.view.indexOf(this.selected);
      const next = this.view[Math.max(0, Math.min(this.view.length - 1, at + (e.key === 'ArrowDown' ? 1 : -1)))];
      if (next !== undefined) {
        this.select(next);
        this.scrollIntoView(this.view.indexOf(next));
      }
    });
  }

  /** Shows only rows the predicate accepts (a map selection), or all of them. */
  setFilter(predicate: ((row: FlowRow) => boolean) | undefined): void {
    this.predicate = predicate;
    this.viewVersion = -1;
    this.pinnedToBottom = true;
    this.render();
  }

  /** Rows the table shows now (all of the store, or those of the selection). */
  get shown(): number {
    return this.view.length;
  }

  select(row: FlowRow | undefined): void {
    this.selected = row;
    this.draw(true);
    this.onSelect(row);
  }

  private scrollIntoView(index: number): void {
    const top = index * ROW_HEIGHT;
    if (top < this.scroller.scrollTop) this.scroller.scrollTop = top;
    else if (top + ROW_HEIGHT > this.scroller.scrollTop + this.scroller.clientHeight) {
      this.scroller.scrollTop = top + ROW_HEIGHT - this.scroller.clientHeight;
    }
  }

  /** Brings the view up to date with the store; called once per animation frame at most. */
  render(): void {
    if (this.viewVersion !== this.store.version) {
      // Someone reading (scrolled up, or looking at a flow): keep the row they look at where it is on screen, though
      // rows come in below and the oldest leave above.
      const anchor = this.pinnedToBottom ? undefined : this.anchorRow();
      this.viewVersion = this.store.version;
      this.view = this.predicate === undefined ? this.store.all() : this.store.filter(this.predicate);
      this.spacer.style.height = `${this.view.length * ROW_HEIGHT}px`;
      if (this.pinnedToBottom) this.scroller.scrollTop = this.scroller.scrollHeight;
      else if (anchor !== undefined) {
        const index = this.view.indexOf(anchor.row);
        if (index !== -1) this.scroller.scrollTop = index * ROW_HEIGHT - anchor.offset;
      }
      this.draw(true);
    }
  }

  /** The selected row when it is in view, else the first row in view, with its distance from the top. */
  private anchorRow(): { row: FlowRow; offset: number } | undefined {
    const top = this.scroller.scrollTop;
    const selectedAt = this.selected === undefined ? -1 : this.view.indexOf(this.selected);
    const inView = selectedAt * ROW_HEIGHT >= top && selectedAt * ROW_HEIGHT < top + this.scroller.clientHeight;
    const index = selectedAt !== -1 && inView ? selectedAt : Math.floor(top / ROW_HEIGHT);
    const row = this.view[index];
    return row === undefined ? undefined : { row, offset: index * ROW_HEIGHT - top };
  }

  private draw(force: boolean): void {
    const height = this.scroller.clientHeight || 600;
    const last = Math.min(this.view.length, Math.ceil((this.scroller.scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
    // Scrolled further down than a view that just shrank (a new filter) reaches: draw its end, not a negative count.
    const first = Math.max(0, Math.min(last, Math.floor(this.scroller.scrollTop / ROW_HEIGHT) - OVERSCAN));
    const key = `${first}:${last}:${this.view.length}:${this.viewVersion}`;
    if (!force && key === this.drawn) return;
    this.drawn = key;
    this.body.style.transform = `translateY(${first * ROW_HEIGHT}px)`;
    const wanted = last - first;
    while (this.body.childElementCount < wanted) this.body.append(this.rowElement());
    while (this.body.childElementCount > wanted) this.body.lastElementChild!.remove();
    for (let i = 0; i < wanted; i++) {
      const row = this.view[first + i]!;
      const el = this.body.children[i] as HTMLElement;
      el.dataset['index'] = String(first + i);
      el.className = `flow-row tone-${row.tone}${row === this.selected ? ' selected' : ''}`;
      el.setAttribute('aria-selected', String(row === this.selected));
      const cells = el.children;
      for (let c = 0; c < this.columns.length; c++) {
        const text = String(row[this.columns[c]!.key]);
        const cell = cells[c] as HTMLElement;
        if (cell.textContent !== text) cell.textContent = text;
      }
    }
  }

  private rowElement(): HTMLElement {
    const el = document.createElement('div');
    el.setAttribute('role', 'row');
    for (const c of this.columns) {
      const cell = document.createElement('span');
      cell.className = `cell col-${c.key}`;
      cell.setAttribute('role', 'cell');
      el.append(cell);
    }
    return el;
  }
}

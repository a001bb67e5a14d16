// Tab-aligned columns as Go's text/tabwriter lays them out with hubble's settings (minwidth 2,
// padding 3, spaces, left-aligned): each tab ends a cell, text after the last tab is not aligned,
// and a column's width is set per block of consecutive lines that have a cell in it.

const MIN_WIDTH = 2;
const PADDING = 3;

export class TabWriter {
  /** Each line: its tab-terminated cells, then the trailing text. */
  private readonly lines: string[][] = [];
  private partial = '';

  constructor(private readonly out: { write(text: string): unknown }) {}

  write(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop()!;
    for (const line of parts) this.lines.push(line.split('\t'));
  }

  /** Lays out and writes everything buffered; like Go, nothing is written before this. */
  flush(): void {
    if (this.partial !== '') {
      this.lines.push(this.partial.split('\t'));
      this.partial = '';
    }
    const out: string[] = [];
    this.format(out, [], 0, this.lines.length);
    this.lines.length = 0;
    if (out.length > 0) this.out.write(out.join(''));
  }

  private format(out: string[], widths: number[], line0: number, line1: number): void {
    const column = widths.length;
    let start = line0;
    for (let i = line0; i < line1; i++) {
      if (column >= this.lines[i]!.length - 1) continue;
      this.writeLines(out, widths, start, i);
      start = i;
      let width = MIN_WIDTH;
      for (; i < line1; i++) {
        const cells = this.lines[i]!;
        if (column >= cells.length - 1) break;
        width = Math.max(width, [...cells[column]!].length + PADDING);
      }
      this.format(out, [...widths, width], start, i);
      start = i;
      i--; // the loop's i++ brings us back to the first line after the block
    }
    this.writeLines(out, widths, start, line1);
  }

  private writeLines(out: string[], widths: readonly number[], line0: number, line1: number): void {
    for (let i = line0; i < line1; i++) {
      const cells = this.lines[i]!;
      let text = '';
      cells.forEach((cell, j) => {
        text +=
          j < widths.length && j < cells.length - 1
            ? cell + ' '.repeat(Math.max(0, widths[j]! - [...cell].length))
            : cell;
      });
      out.push(`${text}\n`);
    }
  }
}

// What the human-readable printers put on a terminal: hubble's colours for hosts, ports, identities and verdicts,
// and text from the wire made harmless (a flow's names and summary come from packets anyone can send).

/** The SGR sequences hubble's printer uses (fatih/color: one foreground colour, then a full reset). */
const RESET = '\x1b[0m';
const RED = '\x1b[31m';
const GREEN = '\x1b[32m';
const YELLOW = '\x1b[33m';
const MAGENTA = '\x1b[35m';
const CYAN = '\x1b[36m';

export type ColorChoice = 'auto' | 'always' | 'never';
export const COLOR_CHOICES: readonly ColorChoice[] = ['auto', 'always', 'never'];

/**
 * Whether `--color` means colours on this output: `auto` colours a terminal unless NO_COLOR is set or TERM is
 * "dumb", as fatih/color (hubble's colour library) decides.
 */
export function colorsEnabled(choice: ColorChoice, out: { isTTY?: boolean }, env = process.env): boolean {
  switch (choice) {
    case 'always':
      return true;
    case 'never':
      return false;
    case 'auto':
      return out.isTTY === true && (env['NO_COLOR'] ?? '') === '' && env['TERM'] !== 'dumb';
  }
}

/**
 * Escape (ESC) and carriage return shown as `^[` and `\r`, as hubble's terminal escaper shows them: a hostile DNS
 * name or URL cannot move the cursor, recolour or rewrite the line it is printed on. Everything taken from a flow
 * passes through here before colours are added, so no sequence from the wire survives, not even a colour.
 */
export function escapeControl(text: string): string {
  if (text.indexOf('\x1b') === -1 && text.indexOf('\r') === -1) return text;
  return text.replace(/\x1b/g, '^[').replace(/\r/g, '\\r');
}

/** Hubble's palette: hosts cyan, ports yellow, identities magenta, verdicts green/red/yellow. */
export class Colors {
  constructor(readonly enabled: boolean) {}

  private paint(color: string, text: string): string {
    return this.enabled ? `${color}${text}${RESET}` : text;
  }

  host(text: string): string {
    return this.paint(CYAN, text);
  }

  port(text: string): string {
    return this.paint(YELLOW, text);
  }

  identity(text: string): string {
    return this.paint(MAGENTA, text);
  }

  forwarded(text: string): string {
    return this.paint(GREEN, text);
  }

  dropped(text: string): string {
    return this.paint(RED, text);
  }

  /** AUDIT, TRACED and TRANSLATED. */
  notable(text: string): string {
    return this.paint(YELLOW, text);
  }

  authFailed(text: string): string {
    return this.paint(RED, text);
  }

  authEnabled(text: string): string {
    return this.paint(GREEN, text);
  }
}

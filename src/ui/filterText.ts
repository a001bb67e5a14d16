// The filter box: `hubble observe` flags typed as text ("--port 443 --not --protocol udp --since 5m") turned into a
// GetFlowsRequest by the CLI's own parts (FlowFilterFlags, planSelection), so the page and the command line read the
// same words the same way. Only filter and selection flags: nothing that reads files or names a server.
import { GetFlowsRequest } from '../api/observer/observer.js';
import { CliError } from '../cli/client.js';
import { FILTER_FLAGS, FlowFilterFlags } from '../cli/flowFilterFlags.js';
import { parseCount, planSelection } from '../cli/observeOptions.js';
import { compileFlowFilters, FilterError } from '../observer/filters/index.js';

/** Text longer than this is refused: no honest filter is that long. */
export const MAX_FILTER_TEXT = 4096;

/** The text could not be read as flags; the message says what to change. */
export class FilterTextError extends Error {
  override readonly name = 'FilterTextError';
}

interface FlagSpec {
  name: string;
  boolean: boolean;
  kind: 'filter' | 'selector';
}

const SELECTOR_FLAGS: readonly FlagSpec[] = [
  { name: 'last', boolean: false, kind: 'selector' },
  { name: 'first', boolean: false, kind: 'selector' },
  { name: 'all', boolean: true, kind: 'selector' },
  { name: 'follow', boolean: true, kind: 'selector' },
  { name: 'since', boolean: false, kind: 'selector' },
  { name: 'until', boolean: false, kind: 'selector' },
];

const BY_NAME = new Map<string, FlagSpec>();
const BY_SHORT = new Map<string, FlagSpec>();
for (const f of FILTER_FLAGS) {
  const spec: FlagSpec = { name: f.name, boolean: f.boolean === true, kind: 'filter' };
  BY_NAME.set(f.name, spec);
  if (f.short !== undefined) BY_SHORT.set(f.short, spec);
}
for (const s of SELECTOR_FLAGS) BY_NAME.set(s.name, s);
BY_SHORT.set('f', BY_NAME.get('follow')!);

/** Splits text into words as a POSIX shell does for plain words: blanks separate, quotes group, backslash escapes. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote !== undefined) throw new FilterTextError(`unterminated ${quote} quote`);
  if (inWord) words.push(word);
  return words;
}

export interface FlowsQuery {
  request: GetFlowsRequest;
}

/**
 * The GetFlowsRequest the flags ask for. Without --last, --first, --all, --since or --until the page asks for the last
 * `defaultLast` flows (hubble's default of 20 is too few for a map), then follows when --follow (or `follow`, the page's
 * switch, unless --first is typed) says so.
 * Filters are compiled here as the server would, so a bad one is refused before a stream starts.
 */
export function parseFlowsQuery(
  text: string,
  options: { follow: boolean; defaultLast: number; extra?: readonly string[]; now?: Date },
): FlowsQuery {
  if (text.length > MAX_FILTER_TEXT) {
    throw new FilterTextError(`the filter is ${text.length} characters long; at most ${MAX_FILTER_TEXT} are taken`);
  }
  const words = [...splitWords(text), ...(options.extra ?? [])];
  const filters = new FlowFilterFlags();
  // The Follow switch is the page's default; typed --first (which cannot follow) wins over it, as typed --follow does.
  const selection: Record<string, unknown> = {
    follow: options.follow && !words.some((w) => w === '--first' || w.startsWith('--first=')),
  };
  try {
    for (let i = 0; i < words.length; i++) {
      const word = words[i]!;
      let spec: FlagSpec | undefined;
      let value: string | undefined;
      let shown = word;
      if (word.startsWith('--') && word.length > 2) {
        const eq = word.indexOf('=');
        const name = eq === -1 ? word.slice(2) : word.slice(2, eq);
        spec = BY_NAME.get(name);
        if (eq !== -1) value = word.slice(eq + 1);
        shown = `--${name}`;
      } else if (/^-[^-]$/.test(word)) {
        spec = BY_SHORT.get(word[1]!);
      }
      if (spec === undefined) {
        if (word.startsWith('-')) {
          throw new FilterTextError(
            `unknown flag ${shown}: the filter takes hubble observe's filter flags (e.g. --port 443, --from-pod ns/name, --verdict DROPPED, --not) and --since, --until, --last, --first, --all, --follow`,
          );
        }
        throw new FilterTextError(`"${word}" is not a flag: write filters as flags, e.g. --ip ${word}`);
      }
      if (spec.boolean) {
        if (value !== undefined) throw new FilterTextError(`${shown} takes no value`);
      } else if (value === undefined) {
        value = words[++i];
        if (value === undefined) throw new FilterTextError(`${shown} needs a value`);
      }
      if (spec.kind === 'filter') {
        filters.set(spec.name, value ?? '');
      } else if (spec.boolean) {
        selection[spec.name] = true;
      } else if (spec.name === 'last' || spec.name === 'first') {
        selection[spec.name] = parseCount(spec.name)(value!);
      } else {
        selection[spec.name] = value;
      }
    }
    const chosen = ['last', 'first', 'all', 'since', 'until'].some((k) => selection[k] !== undefined);
    if (!chosen) selection['last'] = options.defaultLast;
    const planned = planSelection(selection, options.now ?? new Date(), false);
    const { whitelist, blacklist } = filters.lists();
    compileFlowFilters(whitelist, blacklist);
    return { request: GetFlowsRequest.fromPartial({ ...planned, whitelist, blacklist }) };
  } catch (err) {
    if (err instanceof CliError || err instanceof FilterError) throw new FilterTextError(err.message);
    throw err;
  }
}

// The exporter's allow and deny lists as Hubble's agent takes them: one string of JSON-encoded FlowFilter objects, one
// after another (`hubble observe --print-raw-filters` prints them), and its field mask as a list of flow.Flow paths.
import { FlowFilter } from '../api/flow/flow.js';
import { fromProtoJson, ProtoJsonError, type JsonValue } from '../protojson/protojson.js';

/** What is wrong with a filter list or field mask, in one line; the caller names the setting. */
export class ExportSettingError extends Error {
  override readonly name = 'ExportSettingError';
}

/**
 * Parses FlowFilter objects separated by whitespace, as upstream's ParseFlowFilters does. Commas between objects are
 * accepted too: Cilium's own documentation writes lists as `{...},{...}`. Each object is protojson (proto or JSON
 * field names, enums by name). An empty or blank text is no filters.
 */
export function parseFlowFilterList(text: string): FlowFilter[] {
  const filters: FlowFilter[] = [];
  let at = 0;
  for (;;) {
    while (at < text.length && (isSpace(text[at]!) || (filters.length > 0 && text[at] === ','))) at++;
    if (at === text.length) return filters;
    if (text[at] !== '{') {
      throw new ExportSettingError(
        `expected a JSON object such as {"verdict":["DROPPED"]} at offset ${at}, found ${JSON.stringify(text.slice(at, at + 12))}`,
      );
    }
    const end = objectEnd(text, at);
    const objectText = text.slice(at, end);
    let json: JsonValue;
    try {
      json = JSON.parse(objectText) as JsonValue;
    } catch (err) {
      throw new ExportSettingError(`${objectText} is not valid JSON: ${(err as Error).message}`);
    }
    try {
      filters.push(FlowFilter.decode(fromProtoJson('flow.FlowFilter', json)));
    } catch (err) {
      if (err instanceof ProtoJsonError) throw new ExportSettingError(firstLine(err.message));
      throw err;
    }
    at = end;
  }
}

/** Field mask paths given as repeated values, each comma- or space-separated ("time,verdict" or "time verdict"). */
export function parseFieldMaskPaths(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(/[\s,]+/)).filter((p) => p !== '');
}

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

/** Index just past the `}` closing the object that starts at `start`, skipping braces inside strings. */
function objectEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i + 1;
  }
  throw new ExportSettingError(`${text.slice(start)} is not valid JSON: the object is not closed`);
}

function firstLine(message: string): string {
  return message.split('\n')[0]!;
}

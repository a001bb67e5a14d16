// `hubble-ts observe --input-file`: flows saved with `observe -o json` read back from a file or stdin instead of a
// server, with the request's filters, --since/--until and --first/--last/--all applied here, in file order, as
// hubble's reader does it.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { GetFlowsRequest, GetFlowsResponse } from '../api/observer/observer.js';
import type { Timestamp } from '../api/google/protobuf/timestamp.js';
import { compileEventFilters, FilterError, type EventPredicate } from '../observer/filters/index.js';
import { fromProtoJson, type JsonValue } from '../protojson/protojson.js';
import { CliError } from './client.js';
import type { TextSink } from './flowPrinter.js';

/** `--last N` keeps N responses until the file ends: hubble's bound, so a typo cannot take all memory. */
const MAX_LAST = 1_000_000;
const ALL = 18446744073709551615n;

function nanos(t: Timestamp | undefined): bigint {
  return t === undefined ? 0n : BigInt(t.seconds) * 1_000_000_000n + BigInt(t.nanos);
}

/** One line of `observe -o json`, or undefined (and a warning) when it is not one. */
class LineParser {
  private ignoreUnknown = false;

  constructor(private readonly warn: (message: string) => void) {}

  parse(line: string, lineNumber: number): GetFlowsResponse | undefined {
    if (line.trim() === '') return undefined;
    let json: JsonValue;
    try {
      json = JSON.parse(line) as JsonValue;
    } catch (err) {
      this.warn(`line ${lineNumber}: not JSON (${(err as Error).message}), skipped`);
      return undefined;
    }
    try {
      return GetFlowsResponse.decode(
        fromProtoJson('observer.GetFlowsResponse', json, { ignoreUnknownFields: this.ignoreUnknown }),
      );
    } catch (err) {
      if (!this.ignoreUnknown) {
        // Flows written by a newer Hubble may carry fields we do not know: say so once, then read past them.
        try {
          const res = GetFlowsResponse.decode(
            fromProtoJson('observer.GetFlowsResponse', json, { ignoreUnknownFields: true }),
          );
          this.ignoreUnknown = true;
          this.warn(`line ${lineNumber}: unknown fields are ignored from here on (${(err as Error).message})`);
          return res;
        } catch {
          // Not that: report the first error below.
        }
      }
      this.warn(`line ${lineNumber}: not a GetFlowsResponse (${(err as Error).message}), skipped`);
      return undefined;
    }
  }
}

/** Reads `path` ("-": `stdin`) line by line and hands each response the request selects to `emit`. */
export async function readFlowsFile(
  path: string,
  request: GetFlowsRequest,
  emit: (res: GetFlowsResponse) => void,
  io: { stdin?: Readable; stderr: TextSink },
): Promise<void> {
  let matches: EventPredicate;
  try {
    matches = compileEventFilters(request.whitelist, request.blacklist);
  } catch (err) {
    if (err instanceof FilterError) throw new CliError(`invalid filter: ${err.message}`);
    throw err;
  }
  const number = BigInt(request.number);
  const first = request.first && number !== 0n && number !== ALL;
  const lastN = !request.first && number !== 0n && number !== ALL ? number : 0n;
  if (lastN > BigInt(MAX_LAST)) throw new CliError(`--last must be <= 1000000 with --input-file, got ${number}`);
  const since = request.since === undefined ? undefined : nanos(request.since);
  const until = request.until === undefined ? undefined : nanos(request.until);

  let input: Readable;
  if (path === '-') {
    input = io.stdin ?? process.stdin;
  } else {
    const file = createReadStream(path);
    await new Promise<void>((resolve, reject) => {
      file.once('open', () => resolve());
      file.once('error', (err: NodeJS.ErrnoException) =>
        reject(new CliError(`cannot read --input-file ${path}: ${err.code ?? err.message}`)),
      );
    });
    input = file;
  }
  const parser = new LineParser((m) => io.stderr.write(`hubble-ts: --input-file ${path}: ${m}\n`));
  // --last N: the newest N in a circular buffer, oldest at `next` once it is full.
  const kept: GetFlowsResponse[] = [];
  const keep = Number(lastN);
  let next = 0;
  let emitted = 0n;
  let lineNumber = 0;
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      lineNumber++;
      const res = parser.parse(line, lineNumber);
      if (res === undefined) continue;
      const t = nanos(res.time);
      if (since !== undefined && t < since) continue;
      if (until !== undefined && t > until) continue;
      const event = res.flow !== undefined ? { kind: 'flow' as const, flow: res.flow } : { kind: 'lost' as const };
      if (!matches(event)) continue;
      if (keep > 0) {
        if (kept.length < keep) kept.push(res);
        else kept[next] = res;
        next = (next + 1) % keep;
        continue;
      }
      emit(res);
      if (first && ++emitted >= number) break;
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined) throw err;
    throw new CliError(`cannot read --input-file ${path}: ${code}`);
  } finally {
    lines.close();
    if (path !== '-') input.destroy();
  }
  const oldest = kept.length < keep ? 0 : next;
  for (let i = 0; i < kept.length; i++) emit(kept[(oldest + i) % kept.length]!);
}

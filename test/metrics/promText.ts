// Reads Prometheus' text exposition format as a scraper does: samples with their labels, and each family's TYPE.
import { request } from 'node:http';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  types: Map<string, string>;
  text: string;
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/gy;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    if (re.lastIndex >= text.length) break;
  }
  return labels;
}

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      types.set(name!, type!);
      continue;
    }
    if (line.trim() === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const raw = m[3]!;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    samples.push({ name: m[1]!, labels: parseLabels(m[2] ?? ''), value });
  }
  return { samples, types, text };
}

/** The samples named `name` whose labels include `labels`. */
export function find(exposition: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return exposition.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/** The one sample named `name` with exactly `labels`; undefined when there is none. */
export function valueOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const keys = Object.keys(labels).sort().join(',');
  const hit = exposition.samples.find(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).sort().join(',') === keys &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return hit?.value;
}

export interface HttpAnswer {
  status: number;
  contentType: string | undefined;
  body: string;
}

/** GET http://127.0.0.1:port/path over a real socket. */
export function httpGet(port: number, path = '/metrics', host = '127.0.0.1'): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: 'GET', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body }));
    });
    req.once('error', reject);
    req.end();
  });
}

/** Scrapes /metrics and parses it; throws unless it answered 200. */
export async function scrape(port: number, host = '127.0.0.1'): Promise<Exposition> {
  const answer = await httpGet(port, '/metrics', host);
  if (answer.status !== 200) throw new Error(`GET /metrics answered ${answer.status}: ${answer.body}`);
  return parseExposition(answer.body);
}

/** A label set as one comparable string, whatever the order of its labels. */
function labelsKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** [labels, value] pairs in a stable order (the exposition's order carries no meaning). */
export function sortSeries(pairs: [Record<string, string>, number][]): [Record<string, string>, number][] {
  return [...pairs].sort(([a], [b]) => (labelsKey(a) < labelsKey(b) ? -1 : labelsKey(a) > labelsKey(b) ? 1 : 0));
}

/** The series of `name` as [labels, value] pairs, sorted as sortSeries sorts them. */
export function series(exposition: Exposition, name: string): [Record<string, string>, number][] {
  return sortSeries(find(exposition, name).map((s) => [s.labels, s.value]));
}

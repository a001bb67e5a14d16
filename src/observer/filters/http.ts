// http_status_code ("404", "4+", "5+"), http_method (case-insensitive), http_path and http_url
// (Go regular expressions; the path is taken from the URL as Go's url.ParseRequestURI does) and
// http_header (exact key and value): L7 HTTP flows only. As upstream, these filters refuse an
// event_type list that cannot select L7 (access log) events.
import type { EventTypeFilter, FlowFilter, HTTP } from '../../api/flow/flow.js';
import { MessageType } from '../../monitor/datapath/messageType.js';
import { Cost, type FieldFilter } from './fieldFilter.js';
import { FilterError } from './filterError.js';
import { compileRegexps } from './goRegexp.js';
import { requestUriPath } from './requestUri.js';

function requireL7EventType(field: string, what: string, types: readonly EventTypeFilter[]): void {
  if (types.length > 0 && !types.some((t) => t.type === MessageType.ACCESS_LOG)) {
    throw new FilterError(
      field,
      undefined,
      `filtering by http ${what} requires the event type filter to only match 'l7' events`,
    );
  }
}

/** The first `digits` decimal digits of a code of three or more digits. */
function leadingDigits(code: number, digits: number): number {
  const limit = digits === 1 ? 10 : 100;
  let c = code;
  while (c >= limit) c = Math.floor(c / 10);
  return c;
}

function statusCodeFilter(values: readonly string[]): FieldFilter {
  const full = new Set<number>();
  const prefixes: { value: number; digits: number }[] = [];
  for (const v of values) {
    if (/^[1-5][0-9]{2}$/.test(v)) full.add(Number(v));
    else if (/^[1-5][0-9]?\+$/.test(v)) prefixes.push({ value: Number(v.slice(0, -1)), digits: v.length - 1 });
    else
      throw new FilterError('http_status_code', v, 'is not a status code ("404") or status code prefix ("4+", "40+")');
  }
  return {
    field: 'http_status_code',
    cost: Cost.Cheap,
    matchFlow: (flow) => {
      const code = flow.l7?.http?.code ?? 0;
      // No code: not a response.
      if (code === 0) return false;
      if (full.has(code)) return true;
      // Go formats the code with "%03d": below 100 it starts with 0, which no prefix does.
      if (code < 100) return false;
      for (const p of prefixes) if (leadingDigits(code, p.digits) === p.value) return true;
      return false;
    },
  };
}

/** strings.EqualFold for the ASCII method names HTTP uses, without allocating. */
function equalFold(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x > 0x7f || y > 0x7f) return a.toLowerCase() === b.toLowerCase();
    if ((x | 0x20) !== (y | 0x20) || (x | 0x20) < 0x61 || (x | 0x20) > 0x7a) return false;
  }
  return true;
}

function regexpFilter(
  field: string,
  values: readonly string[],
  subject: (http: HTTP) => string | undefined,
): FieldFilter {
  const res = compileRegexps(field, values);
  return {
    field,
    cost: Cost.Regexp,
    matchFlow: (flow) => {
      const http = flow.l7?.http;
      if (http === undefined || http.url === '') return false;
      const s = subject(http);
      if (s === undefined) return false;
      for (const re of res) if (re.test(s)) return true;
      return false;
    },
  };
}

export function httpFilters(ff: FlowFilter): FieldFilter[] {
  const out: FieldFilter[] = [];
  if (ff.httpStatusCode.length > 0) {
    requireL7EventType('http_status_code', 'status code', ff.eventType);
    out.push(statusCodeFilter(ff.httpStatusCode));
  }
  if (ff.httpMethod.length > 0) {
    requireL7EventType('http_method', 'method', ff.eventType);
    const methods = [...ff.httpMethod];
    out.push({
      field: 'http_method',
      cost: Cost.Cheap,
      matchFlow: (flow) => {
        const method = flow.l7?.http?.method ?? '';
        if (method === '') return false;
        for (const m of methods) if (equalFold(method, m)) return true;
        return false;
      },
    });
  }
  if (ff.httpPath.length > 0) {
    requireL7EventType('http_path', 'path', ff.eventType);
    out.push(regexpFilter('http_path', ff.httpPath, (http) => requestUriPath(http.url)));
  }
  if (ff.httpUrl.length > 0) {
    requireL7EventType('http_url', 'url', ff.eventType);
    out.push(regexpFilter('http_url', ff.httpUrl, (http) => http.url));
  }
  if (ff.httpHeader.length > 0) {
    requireL7EventType('http_header', 'headers', ff.eventType);
    const wanted = new Map<string, Set<string>>();
    for (const h of ff.httpHeader) {
      let values = wanted.get(h.key);
      if (values === undefined) wanted.set(h.key, (values = new Set()));
      values.add(h.value);
    }
    out.push({
      field: 'http_header',
      cost: Cost.Cheap,
      matchFlow: (flow) => {
        const headers = flow.l7?.http?.headers;
        if (headers === undefined) return false;
        for (const h of headers) if (wanted.get(h.key)?.has(h.value) === true) return true;
        return false;
      },
    });
  }
  return out;
}

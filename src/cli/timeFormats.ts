// Times on the hubble command line: --since/--until values (relative Go durations or the
// absolute layouts hubble accepts) and the --time-format layouts the printers use. Printed
// times are UTC, as hubble prints protobuf timestamps.
import type { Timestamp } from '../api/google/protobuf/timestamp.js';
import { CliError } from './client.js';

const NS_PER_UNIT: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};
const GO_DURATION = /^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$/;

/** Parses a Go duration ("90s", "1h30m", "1.5h") into nanoseconds, or undefined if it is not one. */
export function parseGoDurationNs(text: string): number | undefined {
  if (text === '0') return 0;
  if (!GO_DURATION.test(text)) return undefined;
  const sign = text.startsWith('-') ? -1 : 1;
  let total = 0;
  for (const m of text.replace(/^[-+]/, '').matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    total += Number(m[1]) * NS_PER_UNIT[m[2]!]!;
  }
  return sign * total;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function timestampFromParts(ms: number, fraction: string | undefined, offset: string | undefined): Timestamp {
  let offsetMin = 0;
  if (offset !== undefined && offset !== 'Z') {
    const sign = offset.startsWith('-') ? -1 : 1;
    offsetMin = sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
  }
  const seconds = Math.floor(ms / 1000) - offsetMin * 60;
  const nanos = fraction === undefined ? 0 : Number(fraction.padEnd(9, '0'));
  return { seconds, nanos };
}

const ZONE = '(Z|[+-]\\d{2}:\\d{2})';
const RFC3339 = new RegExp(`^(\\d{4})-(\\d{2})-(\\d{2})T(\\d{2}):(\\d{2}):(\\d{2})(?:\\.(\\d{1,9}))?${ZONE}$`);
const YEAR_MONTH_DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const YEAR_MONTH_DAY_HOUR = new RegExp(`^(\\d{4})-(\\d{2})-(\\d{2})T(\\d{2})${ZONE}$`);
const YEAR_MONTH_DAY_HOUR_MINUTE = new RegExp(`^(\\d{4})-(\\d{2})-(\\d{2})T(\\d{2}):(\\d{2})${ZONE}$`);
const STAMP_MILLI = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3})$/;
const RFC1123Z = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$/;

/**
 * Parses a --since/--until value: a duration back from `now` ("5m", "1h30m") or one of
 * RFC3339 (any fraction), 2006-01-02, 2006-01-02T15Z07:00, 2006-01-02T15:04Z07:00,
 * "Jan _2 15:04:05.000" (this year, UTC) and RFC1123Z.
 */
export function parseTimeArg(text: string, flag: string, now: Date = new Date()): Timestamp {
  const ns = parseGoDurationNs(text);
  if (ns !== undefined) {
    const nowNs = BigInt(now.getTime()) * 1_000_000n - BigInt(Math.round(ns));
    return { seconds: Number(nowNs / 1_000_000_000n), nanos: Number(nowNs % 1_000_000_000n) };
  }
  let m = RFC3339.exec(text);
  if (m) return timestampFromParts(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!), m[7], m[8]);
  m = YEAR_MONTH_DAY.exec(text);
  if (m) return timestampFromParts(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!), undefined, undefined);
  m = YEAR_MONTH_DAY_HOUR.exec(text);
  if (m) return timestampFromParts(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!), undefined, m[5]);
  m = YEAR_MONTH_DAY_HOUR_MINUTE.exec(text);
  if (m) return timestampFromParts(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!), undefined, m[6]);
  m = STAMP_MILLI.exec(text);
  if (m && MONTHS.includes(m[1]!)) {
    const ms = Date.UTC(now.getUTCFullYear(), MONTHS.indexOf(m[1]!), +m[2]!, +m[3]!, +m[4]!, +m[5]!);
    return timestampFromParts(ms, m[6], undefined);
  }
  if (RFC1123Z.test(text) && !Number.isNaN(Date.parse(text)))
    return timestampFromParts(Date.parse(text), undefined, undefined);
  throw new CliError(
    `failed to parse the ${flag} time "${text}": use a duration back from now (30s, 5m, 1h) or a time such as 2024-11-24T10:00:00Z`,
  );
}

export const TIME_FORMATS = [
  'StampMilli',
  'YearMonthDay',
  'YearMonthDayHour',
  'YearMonthDayHourMinute',
  'RFC3339',
  'RFC3339Milli',
  'RFC3339Micro',
  'RFC3339Nano',
  'RFC1123Z',
] as const;
export type TimeFormat = (typeof TIME_FORMATS)[number];

/** The format a --time-format name names, in any case as hubble takes it (rfc3339milli is RFC3339Milli). */
export function timeFormatNamed(name: string): TimeFormat | undefined {
  const lower = name.toLowerCase();
  return TIME_FORMATS.find((format) => format.toLowerCase() === lower);
}

/** `.` and the fraction's first `digits` digits without trailing zeros, as Go's .999 layouts print; "" for none. */
function fraction(nanos: string, digits: number): string {
  const trimmed = nanos.slice(0, digits).replace(/0+$/, '');
  return trimmed === '' ? '' : `.${trimmed}`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** Formats a protobuf timestamp in UTC; "N/A" when absent or out of range, as hubble does. */
export function formatTimestamp(ts: Timestamp | undefined, format: TimeFormat): string {
  if (
    ts === undefined ||
    ts.nanos < 0 ||
    ts.nanos > 999_999_999 ||
    ts.seconds < -62135596800 ||
    ts.seconds > 253402300799
  ) {
    return 'N/A';
  }
  const d = new Date(ts.seconds * 1000);
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const hms = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  const nanos = pad(ts.nanos, 9);
  switch (format) {
    case 'StampMilli':
      return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${hms}.${nanos.slice(0, 3)}`;
    case 'YearMonthDay':
      return date;
    case 'YearMonthDayHour':
      return `${date}T${pad(d.getUTCHours())}Z`;
    case 'YearMonthDayHourMinute':
      return `${date}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}Z`;
    case 'RFC3339':
      return `${date}T${hms}Z`;
    case 'RFC3339Milli':
      return `${date}T${hms}${fraction(nanos, 3)}Z`;
    case 'RFC3339Micro':
      return `${date}T${hms}${fraction(nanos, 6)}Z`;
    case 'RFC3339Nano':
      return `${date}T${hms}${fraction(nanos, 9)}Z`;
    case 'RFC1123Z':
      return `${DAYS[d.getUTCDay()]}, ${pad(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${hms} +0000`;
  }
}

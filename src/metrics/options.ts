// The --metrics list as Hubble reads its metrics option: handler names separated by spaces or commas, each optionally
// followed by ":" and options separated by ";", an option being "key=value" or a bare "key"
// ("flow:sourceContext=namespace;destinationContext=pod dns:query;ignoreAAAA").
//
// labelsContext values are themselves comma-separated (labelsContext=source_ip,source_namespace), so a comma only
// starts a new handler when a handler name follows it; Cilium's Helm chart writes the list space-separated.

/** Handler names, as Hubble registers them. */
export const HANDLER_NAMES = ['flow', 'drop', 'tcp', 'icmp', 'port-distribution', 'dns', 'http', 'httpV2'] as const;
export type HandlerName = (typeof HANDLER_NAMES)[number];

/** Handlers that cannot be enabled together (both define hubble_http_requests_total). */
const CONFLICTS: readonly (readonly [HandlerName, HandlerName])[] = [['http', 'httpV2']];

/** A bad --metrics value; the message names the handler and option and says what was expected. */
export class MetricsOptionError extends Error {
  override readonly name = 'MetricsOptionError';
}

/** One enabled handler: its name and its options in the order given (keys as written; values "" for bare keys). */
export interface MetricsHandlerSpec {
  name: HandlerName;
  options: ReadonlyMap<string, string>;
}

function isHandlerName(name: string): name is HandlerName {
  return (HANDLER_NAMES as readonly string[]).includes(name);
}

/** Splits one whitespace-free token at the commas that start another handler ("flow,drop:sourceContext=ip"). */
function splitAtHandlers(token: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let comma = token.indexOf(','); comma >= 0; comma = token.indexOf(',', comma + 1)) {
    const rest = token.slice(comma + 1);
    const name = /^[^,:]*/.exec(rest)![0];
    // Only options may contain commas; a comma before the first ":" always separates handlers.
    const inOptions = token.slice(start, comma).includes(':');
    if (!inOptions || isHandlerName(name)) {
      parts.push(token.slice(start, comma));
      start = comma + 1;
    }
  }
  parts.push(token.slice(start));
  return parts.filter((p) => p !== '');
}

function parseOptions(handler: string, text: string): Map<string, string> {
  const options = new Map<string, string>();
  for (const option of text.split(';')) {
    if (option === '') continue;
    const eq = option.indexOf('=');
    const key = eq < 0 ? option : option.slice(0, eq);
    const value = eq < 0 ? '' : option.slice(eq + 1);
    if (key === '') throw new MetricsOptionError(`${handler}: option "${option}" has no name (expected key=value)`);
    if ([...options.keys()].some((k) => k.toLowerCase() === key.toLowerCase())) {
      throw new MetricsOptionError(`${handler}: option ${key} is given twice`);
    }
    options.set(key, value);
  }
  return options;
}

/**
 * Parses the --metrics values (each may hold several handlers) into handler specs; MetricsOptionError for an unknown
 * handler, a handler given twice, or handlers that conflict. Options are checked by the handlers themselves.
 */
export function parseMetricsList(values: readonly string[]): MetricsHandlerSpec[] {
  const specs: MetricsHandlerSpec[] = [];
  for (const token of values.join(' ').split(/\s+/)) {
    for (const item of splitAtHandlers(token)) {
      const colon = item.indexOf(':');
      const name = colon < 0 ? item : item.slice(0, colon);
      if (!isHandlerName(name)) {
        throw new MetricsOptionError(`unknown metric "${name}" (expected ${HANDLER_NAMES.join(', ')})`);
      }
      if (specs.some((s) => s.name === name)) throw new MetricsOptionError(`${name} is given twice`);
      specs.push({ name, options: colon < 0 ? new Map() : parseOptions(name, item.slice(colon + 1)) });
    }
  }
  for (const [a, b] of CONFLICTS) {
    if (specs.some((s) => s.name === a) && specs.some((s) => s.name === b)) {
      throw new MetricsOptionError(`${a} and ${b} cannot be enabled together (choose one)`);
    }
  }
  return specs;
}

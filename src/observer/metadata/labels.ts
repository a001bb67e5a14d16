// Cilium labels as Hubble prints them ("k8s:app=frontend", "reserved:host": source, key, and "=value" unless the
// value is empty), how an inventory writes them, and the stable identity number derived from a label set.

/** Label sources Cilium uses; a "source:" prefix outside this list is almost certainly a typo. */
export const LABEL_SOURCES: ReadonlySet<string> = new Set([
  'k8s',
  'container',
  'reserved',
  'unspec',
  'cidr',
  'fqdn',
  'cilium-generated',
]);

export interface Label {
  source: string;
  key: string;
  value: string;
}

/** Cilium's text form, as in flow.Endpoint.labels. */
export function formatLabel(label: Label): string {
  return label.value === '' ? `${label.source}:${label.key}` : `${label.source}:${label.key}=${label.value}`;
}

// Kubernetes label syntax: an optional DNS-subdomain prefix and "/", then a name of up to 63 characters.
const K8S_KEY = /^(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const K8S_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const OTHER_TEXT = /^[^\s=:]*$/;

/**
 * A label from a key ("app", or "container:app" with an explicit source; k8s when none) and a value. Returns a
 * message saying what is wrong instead when the key or value breaks the source's syntax.
 */
export function makeLabel(keyText: string, value: string): Label | { error: string } {
  const colon = keyText.indexOf(':');
  const source = colon < 0 ? 'k8s' : keyText.slice(0, colon);
  const key = colon < 0 ? keyText : keyText.slice(colon + 1);
  if (!LABEL_SOURCES.has(source)) {
    return { error: `label source "${source}" is not one of ${[...LABEL_SOURCES].join(', ')}` };
  }
  if (key === '') return { error: `label "${keyText}" has an empty key` };
  if (source === 'k8s') {
    if (!K8S_KEY.test(key)) return { error: `label key "${key}" is not a valid Kubernetes label key` };
    if (!K8S_VALUE.test(value))
      return { error: `label value "${value}" (key "${key}") is not a valid Kubernetes label value` };
  } else if (!OTHER_TEXT.test(key) || /\s/.test(value)) {
    return { error: `label "${keyText}=${value}" may not contain spaces, and its key no "=" or ":"` };
  }
  return { source, key, value };
}

/** Parses "key=value" or "source:key=value" (the form `cilium endpoint list` prints, and the list form in YAML). */
export function parseLabelText(text: string): Label | { error: string } {
  const eq = text.indexOf('=');
  if (eq < 0) return { error: `label "${text}" is not key=value` };
  return makeLabel(text.slice(0, eq), text.slice(eq + 1));
}

/** Identities Cilium allocates for label sets in a cluster with cluster-id 0: 256 up to 65535 (pkg/identity). */
export const MIN_ALLOCATED_IDENTITY = 256;
export const MAX_ALLOCATED_IDENTITY = 65535;

/**
 * The preferred identity of a label set: FNV-1a of its sorted printed labels folded into the allocation range.
 * Stable across restarts and nodes; the inventory resolves the rare collision by probing upward.
 */
export function preferredIdentity(sortedLabels: readonly string[]): number {
  let h = 0x811c9dc5;
  for (const label of sortedLabels) {
    for (let i = 0; i < label.length; i++) {
      h ^= label.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    h ^= 0x0a; // separator, so ["ab","c"] and ["a","bc"] differ
    h = Math.imul(h, 0x01000193);
  }
  const span = MAX_ALLOCATED_IDENTITY - MIN_ALLOCATED_IDENTITY + 1;
  return MIN_ALLOCATED_IDENTITY + ((h >>> 0) % span);
}

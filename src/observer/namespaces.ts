// Namespaces seen in flows during the last hour, for GetNamespaces.
import { coarseNow } from './metadata/coarseClock.js';

/** How long a namespace stays listed after its last flow, as Hubble keeps them. */
export const NAMESPACE_TTL_MS = 60 * 60 * 1000;

export interface SeenNamespace {
  cluster: string;
  namespace: string;
}

/** Remembers when each cluster/namespace was last seen; bounded by the namespaces that really exist. */
export class NamespaceTracker {
  private readonly lastSeen = new Map<string, { ns: SeenNamespace; atMs: number }>();
  private sinceSweepMs = 0;

  constructor(private readonly now: () => number = coarseNow) {}

  /** Called per flow: one Map lookup, no allocation unless the namespace is new. */
  observe(cluster: string, namespace: string): void {
    if (namespace === '') return;
    const key = cluster + '/' + namespace;
    const entry = this.lastSeen.get(key);
    const now = this.now();
    if (entry !== undefined) entry.atMs = now;
    else this.lastSeen.set(key, { ns: { cluster, namespace }, atMs: now });
    if (now - this.sinceSweepMs > NAMESPACE_TTL_MS) this.sweep(now);
  }

  /** The namespaces seen within the last hour, sorted by cluster then namespace. */
  list(): SeenNamespace[] {
    const now = this.now();
    this.sweep(now);
    return [...this.lastSeen.values()]
      .map((e) => e.ns)
      .sort((a, b) => a.cluster.localeCompare(b.cluster) || a.namespace.localeCompare(b.namespace));
  }

  private sweep(now: number): void {
    this.sinceSweepMs = now;
    for (const [key, entry] of this.lastSeen) {
      if (now - entry.atMs > NAMESPACE_TTL_MS) this.lastSeen.delete(key);
    }
  }
}

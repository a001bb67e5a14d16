// Counter and histogram vectors whose label sets are bounded: each vector keeps at most `maxLabelSets` series, evicts
// the least recently used one to make room for a new one, and counts what it evicted. A flood of distinct addresses or
// ports (sourceContext=ip, port-distribution) therefore costs a fixed amount of memory instead of growing with it.
//
// The per-flow path allocates nothing once a label set exists: series are found through a tree of maps keyed by one
// label value per level (no key string is built), and the most-recently-used order is a doubly linked list whose
// nodes are the series themselves. Values are turned into Prometheus samples only when the endpoint is scraped.
import type { Metric, Registry } from 'prom-client';

/** Prometheus' default histogram buckets (client_golang's DefBuckets, prom-client's defaults), in seconds. */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** How many label sets each vector may hold. */
export interface LabelSetLimit {
  maxLabelSets: number;
}

/** A level of the lookup tree: children keyed by the label value of this level. */
class TreeNode<S> {
  readonly children = new Map<string, TreeNode<S> | S>();
  constructor(
    readonly parent: TreeNode<S> | undefined,
    readonly key: string,
  ) {}
}

/** What every series carries: its label values, where it hangs in the tree, and its place in the LRU list. */
interface SeriesBase<S> {
  readonly values: readonly string[];
  readonly parent: TreeNode<S>;
  readonly key: string;
  newer: S | undefined;
  older: S | undefined;
}

/** One sample as prom-client's registry formats it. */
interface Sample {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * The label-set bookkeeping shared by counters and histograms. `series(values)` finds or creates the series for a
 * label-value list (one value per label name, in order) and marks it most recently used.
 */
abstract class BoundedVec<S extends SeriesBase<S>> {
  readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum' as const;
  private root: TreeNode<S>;
  private count = 0;
  /** Most and least recently used series. */
  private newest: S | undefined;
  private oldest: S | undefined;
  /** Label sets evicted to stay within the limit, since the start. */
  evicted = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly limit: LabelSetLimit,
    type: 'counter' | 'histogram',
  ) {
    if (!Number.isSafeInteger(limit.maxLabelSets) || limit.maxLabelSets < 1) {
      throw new RangeError(`maxLabelSets must be a positive integer, got ${limit.maxLabelSets}`);
    }
    this.type = type;
    this.root = new TreeNode<S>(undefined, '');
  }

  /** Label sets currently held. */
  get size(): number {
    return this.count;
  }

  protected abstract create(values: readonly string[], parent: TreeNode<S>, key: string): S;
  protected abstract samples(series: S, labels: Record<string, string>, out: Sample[]): void;

  /** The series of `values` (read, never kept: a new series copies them). */
  protected series(values: readonly string[]): S {
    const depth = this.labelNames.length;
    // Consecutive flows of one conversation mostly share their labels: try the most recent series first.
    const newest = this.newest;
    if (newest !== undefined) {
      const held = newest.values;
      let same = true;
      for (let i = 0; i < depth; i++) {
        if (held[i] !== values[i]) {
          same = false;
          break;
        }
      }
      if (same) return newest;
    }
    let node = this.root;
    // Labelless vectors hang their single series under the key "".
    const last = depth === 0 ? '' : values[depth - 1]!;
    for (let i = 0; i < depth - 1; i++) {
      const value = values[i]!;
      let child = node.children.get(value) as TreeNode<S> | undefined;
      if (child === undefined) {
        child = new TreeNode<S>(node, value);
        node.children.set(value, child);
      }
      node = child;
    }
    let series = node.children.get(last) as S | undefined;
    if (series === undefined) {
      series = this.create(values.slice(0, depth), node, last);
      node.children.set(last, series);
      this.count++;
      this.pushNewest(series);
      if (this.count > this.limit.maxLabelSets) this.evictOldest();
    } else if (series !== this.newest) {
      this.unlink(series);
      this.pushNewest(series);
    }
    return series;
  }

  /** The series of `values` if it is held, without creating it or marking it used. */
  protected find(values: readonly string[]): S | undefined {
    const depth = this.labelNames.length;
    let node: TreeNode<S> | S | undefined = this.root;
    for (let i = 0; i < depth - 1 && node instanceof TreeNode; i++) node = node.children.get(values[i]!);
    if (!(node instanceof TreeNode)) return undefined;
    const series = node.children.get(depth === 0 ? '' : values[depth - 1]!);
    return series instanceof TreeNode ? undefined : series;
  }

  private pushNewest(series: S): void {
    series.older = this.newest;
    series.newer = undefined;
    if (this.newest !== undefined) this.newest.newer = series;
    this.newest = series;
    if (this.oldest === undefined) this.oldest = series;
  }

  private unlink(series: S): void {
    if (series.newer !== undefined) series.newer.older = series.older;
    else this.newest = series.older;
    if (series.older !== undefined) series.older.newer = series.newer;
    else this.oldest = series.newer;
    series.newer = series.older = undefined;
  }

  private evictOldest(): void {
    const series = this.oldest!;
    this.unlink(series);
    this.count--;
    this.evicted++;
    // Remove the series and every level it leaves empty, so distinct values cannot pile up as empty maps.
    let node = series.parent;
    node.children.delete(series.key);
    while (node.children.size === 0 && node.parent !== undefined) {
      node.parent.children.delete(node.key);
      node = node.parent;
    }
  }

  /** Forgets every series (prom-client's registry calls this from resetMetrics). */
  reset(): void {
    this.root = new TreeNode<S>(undefined, '');
    this.count = 0;
    this.newest = this.oldest = undefined;
  }

  /** The vector as prom-client's registry reads a metric at scrape time, oldest series first. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const values: Sample[] = [];
    for (let s = this.oldest; s !== undefined; s = s.newer) {
      const labels: Record<string, string> = {};
      for (let i = 0; i < this.labelNames.length; i++) labels[this.labelNames[i]!] = s.values[i]!;
      this.samples(s, labels, values);
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Adds this vector to a prom-client registry, which formats it with the others at scrape time. */
  registerIn(registry: Registry): this {
    // The registry reads a metric through get() (and reset()); it does not need prom-client's own classes.
    registry.registerMetric(this as unknown as Metric);
    return this;
  }
}

interface CounterSeries extends SeriesBase<CounterSeries> {
  value: number;
}

/** A counter vector with bounded label sets. */
export class BoundedCounterVec extends BoundedVec<CounterSeries> {
  constructor(name: string, help: string, labelNames: readonly string[], limit: LabelSetLimit) {
    super(name, help, labelNames, limit, 'counter');
  }

  /** Adds `by` (default 1) to the series of `values`. */
  inc(values: readonly string[], by = 1): void {
    this.series(values).value += by;
  }

  /** The current value of a label set, or undefined when it is not held (for checks; does not count as a use). */
  valueFor(values: readonly string[]): number | undefined {
    return this.find(values)?.value;
  }

  protected create(values: readonly string[], parent: TreeNode<CounterSeries>, key: string): CounterSeries {
    return { values, parent, key, newer: undefined, older: undefined, value: 0 };
  }

  protected samples(series: CounterSeries, labels: Record<string, string>, out: Sample[]): void {
    out.push({ labels, value: series.value });
  }
}

interface HistogramSeries extends SeriesBase<HistogramSeries> {
  /** Observations per bucket (not cumulative; the last slot is +Inf). */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

/** A histogram vector with bounded label sets. */
export class BoundedHistogramVec extends BoundedVec<HistogramSeries> {
  private readonly upperBounds: readonly number[];

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    limit: LabelSetLimit,
    buckets: readonly number[] = DEFAULT_BUCKETS,
  ) {
    super(name, help, labelNames, limit, 'histogram');
    this.upperBounds = [...buckets].sort((a, b) => a - b);
  }

  observe(values: readonly string[], value: number): void {
    const series = this.series(values);
    const bounds = this.upperBounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    series.buckets[i]!++;
    series.sum += value;
    series.count++;
  }

  protected create(values: readonly string[], parent: TreeNode<HistogramSeries>, key: string): HistogramSeries {
    return {
      values,
      parent,
      key,
      newer: undefined,
      older: undefined,
      buckets: new Float64Array(this.upperBounds.length + 1),
      sum: 0,
      count: 0,
    };
  }

  protected samples(series: HistogramSeries, labels: Record<string, string>, out: Sample[]): void {
    let cumulative = 0;
    for (let i = 0; i <= this.upperBounds.length; i++) {
      cumulative += series.buckets[i]!;
      const le = i < this.upperBounds.length ? this.upperBounds[i]! : '+Inf';
      out.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: cumulative });
    }
    out.push({ metricName: `${this.name}_sum`, labels, value: series.sum });
    out.push({ metricName: `${this.name}_count`, labels, value: series.count });
  }
}

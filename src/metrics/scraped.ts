// Metrics whose values live elsewhere in the server (counters the ring, the monitor agent or the recorder keep anyway,
// queue lengths, connection states) and are read only when the endpoint is scraped: nothing runs per event for them.
import type { Metric, Registry } from 'prom-client';

/** Label values to value, for one scrape. */
export type ScrapedValues = readonly (readonly [labels: Readonly<Record<string, string>>, value: number])[];

export class ScrapedMetric {
  readonly aggregator = 'sum' as const;

  /** `read` returns one value (no labels) or one value per label set. */
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
    private readonly read: () => number | ScrapedValues,
  ) {}

  async get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: { labels: Record<string, string>; value: number }[];
  }> {
    const read = this.read();
    const values =
      typeof read === 'number'
        ? [{ labels: {}, value: read }]
        : read.map(([labels, value]) => ({ labels: { ...labels }, value }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Nothing to reset: the values belong to the parts of the server they are read from. */
  reset(): void {}

  registerIn(registry: Registry): this {
    // prom-client's registry reads a metric through get(); it does not need prom-client's own classes.
    registry.registerMetric(this as unknown as Metric);
    return this;
  }
}

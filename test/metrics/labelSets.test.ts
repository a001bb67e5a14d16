// Label cardinality is bounded: each metric keeps at most --metrics-label-sets-max label sets, evicting the least
// recently used and counting what it evicted, so a flood of distinct addresses or ports cannot grow memory.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { IPVersion, TrafficDirection, Verdict } from '../../src/api/flow/flow.js';
import { BoundedCounterVec, BoundedHistogramVec } from '../../src/metrics/labelSets.js';
import { find, valueOf } from './promText.js';
import { flow, hookPath } from './hookPath.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('a bounded vector', () => {
  it('evicts the least recently used label set, not the oldest one still in use', () => {
    const vec = new BoundedCounterVec('test_total', 'test', ['a', 'b'], { maxLabelSets: 3 });
    vec.inc(['x', '1']);
    vec.inc(['x', '2']);
    vec.inc(['y', '1']);
    vec.inc(['x', '1']); // used again: now the most recent
    vec.inc(['z', '9']); // a fourth: ['x','2'] goes
    expect(vec.size).toBe(3);
    expect(vec.evicted).toBe(1);
    expect(vec.valueFor(['x', '1'])).toBe(2);
    expect(vec.valueFor(['x', '2'])).toBeUndefined();
    expect(vec.valueFor(['y', '1'])).toBe(1);
    expect(vec.valueFor(['z', '9'])).toBe(1);
    // An evicted label set that comes back starts again from zero, as a counter reset does in Prometheus.
    vec.inc(['x', '2']);
    expect(vec.valueFor(['x', '2'])).toBe(1);
    expect(vec.evicted).toBe(2);
  });

  it('keeps a labelless vector as one series', async () => {
    const vec = new BoundedCounterVec('plain_total', 'plain', [], { maxLabelSets: 1 });
    vec.inc([]);
    vec.inc([], 4);
    expect(vec.valueFor([])).toBe(5);
    expect((await vec.get()).values).toEqual([{ labels: {}, value: 5 }]);
  });

  it('bounds histograms the same way', async () => {
    const vec = new BoundedHistogramVec('lat_seconds', 'lat', ['m'], { maxLabelSets: 2 }, [0.1, 1]);
    vec.observe(['GET'], 0.05);
    vec.observe(['PUT'], 0.5);
    vec.observe(['POST'], 5);
    expect(vec.size).toBe(2);
    const values = (await vec.get()).values.map((v) => [v.metricName, v.labels, v.value]);
    expect(values).toEqual([
      ['lat_seconds_bucket', { m: 'PUT', le: 0.1 }, 0],
      ['lat_seconds_bucket', { m: 'PUT', le: 1 }, 1],
      ['lat_seconds_bucket', { m: 'PUT', le: '+Inf' }, 1],
      ['lat_seconds_sum', { m: 'PUT' }, 0.5],
      ['lat_seconds_count', { m: 'PUT' }, 1],
      ['lat_seconds_bucket', { m: 'POST', le: 0.1 }, 0],
      ['lat_seconds_bucket', { m: 'POST', le: 1 }, 0],
      ['lat_seconds_bucket', { m: 'POST', le: '+Inf' }, 1],
      ['lat_seconds_sum', { m: 'POST' }, 5],
      ['lat_seconds_count', { m: 'POST' }, 1],
    ]);
  });

  it('refuses a limit below one', () => {
    expect(() => new BoundedCounterVec('x_total', 'x', [], { maxLabelSets: 0 })).toThrow(RangeError);
  });
});

/** 10.x.y.z for the i-th distinct address. */
function address(i: number): string {
  return `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`;
}

describe('a flood of distinct addresses and ports', () => {
  it('stays at the cap, counts every eviction, and does not grow the heap', async () => {
    const cap = 1000;
    const path = hookPath(
      [
        'flow:sourceContext=ip;destinationContext=ip',
        'port-distribution:sourceContext=ip',
        'tcp:destinationContext=ip',
      ],
      cap,
    );
    const feed = (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        path.feed(
          flow({
            eventType: { type: 4, subType: 0 },
            verdict: Verdict.FORWARDED,
            isReply: false,
            trafficDirection: TrafficDirection.INGRESS,
            IP: { source: address(i), destination: address(i + 7_000_000), ipVersion: IPVersion.IPv4 },
            l4: { TCP: { sourcePort: 1024 + (i % 60000), destinationPort: i % 65536, flags: { SYN: true } } },
          }),
        );
      }
    };
    // Every port once first: port numbers are turned into text once each (65,536 strings at most), then reused.
    feed(0, 70_000);
    const heapBefore = heapAfterGc();
    feed(70_000, 170_000);
    const heapAfter = heapAfterGc();

    const scraped = await path.scrape();
    for (const metric of ['hubble_flows_processed_total', 'hubble_port_distribution_total', 'hubble_tcp_flags_total']) {
      expect(find(scraped, metric)).toHaveLength(cap);
      expect(valueOf(scraped, 'hubblets_metrics_label_sets', { metric })).toBe(cap);
      expect(valueOf(scraped, 'hubblets_metrics_label_sets_evicted_total', { metric })).toBe(170_000 - cap);
    }
    // The survivors are the most recent addresses.
    const sources = new Set(find(scraped, 'hubble_flows_processed_total').map((s) => s.labels['source']));
    expect(sources.has(address(169_999))).toBe(true);
    expect(sources.has(address(170_000 - cap))).toBe(true);
    expect(sources.has(address(170_000 - cap - 1))).toBe(false);
    // 100,000 more distinct addresses held nothing more (without the cap: ~75 MiB for these three metrics).
    expect(heapAfter - heapBefore).toBeLessThan(2 ** 20);
  });
});

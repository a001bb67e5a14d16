import { describe, expect, it } from 'vitest';
import { DnsNameCache } from '../../../src/observer/metadata/dnsNames.js';

const T0 = 1_700_000_000; // capture time, seconds: a replayed capture from 2023
const at = (seconds: number) => ({ seconds: T0 + Math.floor(seconds), nanos: Math.round((seconds % 1) * 1e9) });

describe('DNS names cache', () => {
  it('names an address from a DNS answer, as Hubble prints names (no trailing dot, lower case)', () => {
    const dns = new DnsNameCache();
    dns.learn({ query: 'API.Example.com.', ips: ['93.184.216.34', '2606:2800:220:1::1'], ttlSeconds: 300, at: at(0) });
    expect(dns.namesOf('93.184.216.34')).toEqual(['api.example.com']);
    expect(dns.namesOf('2606:2800:220:1::1')).toEqual(['api.example.com']);
    expect(dns.namesOf('1.1.1.1')).toEqual([]);
  });

  it('lists names alphabetically, as Cilium does, whichever was answered last', () => {
    const dns = new DnsNameCache();
    dns.learn({ query: 'c.example', ips: ['10.0.0.1'], ttlSeconds: 600, at: at(0) });
    dns.learn({ query: 'a.example', ips: ['10.0.0.1'], ttlSeconds: 600, at: at(1) });
    dns.learn({ query: 'b.example', ips: ['10.0.0.1'], ttlSeconds: 600, at: at(2) });
    expect(dns.namesOf('10.0.0.1')).toEqual(['a.example', 'b.example', 'c.example']);
    // Answered again (the order a metric's label value is made from must not change with it).
    dns.learn({ query: 'c.example.', ips: ['10.0.0.1'], ttlSeconds: 600, at: at(3) });
    expect(dns.namesOf('10.0.0.1')).toEqual(['a.example', 'b.example', 'c.example']);
  });

  it('keeps names by capture time even when answers arrive out of order', () => {
    const dns = new DnsNameCache({ maxNamesPerAddress: 1 });
    dns.learn({ query: 'late.example', ips: ['10.0.0.1'], ttlSeconds: 600, at: at(10) });
    dns.learn({ query: 'early.example', ips: ['10.0.0.1'], ttlSeconds: 600, at: at(5) });
    expect(dns.namesOf('10.0.0.1')).toEqual(['late.example']);
  });

  it.each([
    ['keeps a name until its TTL passes, on capture time', 300, 299.999, ['x.example']],
    ['drops a name once its TTL has passed', 300, 300, []],
    ['holds a zero TTL for the 60 s minimum', 0, 59, ['x.example']],
    ['drops a zero-TTL name after the minimum', 0, 60, []],
    ['holds a short TTL for the minimum', 5, 30, ['x.example']],
  ])('%s', (_case, ttlSeconds, later, expected) => {
    const dns = new DnsNameCache();
    dns.learn({ query: 'x.example', ips: ['10.0.0.1'], ttlSeconds, at: at(0) });
    // The clock moves only with capture timestamps: a later answer about anything else advances it.
    dns.learn({ query: 'clock.example', ips: ['10.9.9.9'], ttlSeconds: 3600, at: at(later) });
    expect(dns.namesOf('10.0.0.1')).toEqual(expected);
  });

  it('expires each name of an address on its own TTL', () => {
    const dns = new DnsNameCache();
    dns.learn({ query: 'short.example', ips: ['10.0.0.1'], ttlSeconds: 60, at: at(0) });
    dns.learn({ query: 'long.example', ips: ['10.0.0.1'], ttlSeconds: 3600, at: at(0) });
    expect(dns.namesOf('10.0.0.1')).toEqual(['long.example', 'short.example']);
    dns.learn({ query: 'tick.example', ips: ['10.9.9.9'], ttlSeconds: 60, at: at(61) });
    expect(dns.namesOf('10.0.0.1')).toEqual(['long.example']);
    expect(dns.size).toEqual({ addresses: 2, names: 2 });
  });

  it('keeps the later expiry when a name is answered again with a shorter TTL', () => {
    const dns = new DnsNameCache();
    dns.learn({ query: 'x.example', ips: ['10.0.0.1'], ttlSeconds: 3600, at: at(0) });
    dns.learn({ query: 'x.example', ips: ['10.0.0.1'], ttlSeconds: 60, at: at(10) });
    dns.learn({ query: 'tick.example', ips: ['10.9.9.9'], ttlSeconds: 60, at: at(1000) });
    expect(dns.namesOf('10.0.0.1')).toEqual(['x.example']);
  });

  it('works on a capture replayed years later: wall-clock time plays no part', () => {
    const dns = new DnsNameCache();
    dns.learn({ query: 'old.example', ips: ['10.0.0.1'], ttlSeconds: 30, at: { seconds: 946_684_800, nanos: 0 } });
    expect(dns.namesOf('10.0.0.1')).toEqual(['old.example']);
  });

  it('returns the same frozen array until something changes, so lookups allocate nothing', () => {
    const dns = new DnsNameCache();
    dns.learn({ query: 'x.example', ips: ['10.0.0.1'], ttlSeconds: 300, at: at(0) });
    const first = dns.namesOf('10.0.0.1');
    expect(dns.namesOf('10.0.0.1')).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(dns.namesOf('10.0.0.2'))).toBe(true);
  });

  it.each([
    ['the root name', '.'],
    ['an empty name', ''],
    ['a name longer than DNS allows', `${'a'.repeat(250)}.com`],
  ])('ignores %s', (_case, query) => {
    const dns = new DnsNameCache();
    dns.learn({ query, ips: ['10.0.0.1'], ttlSeconds: 300, at: at(0) });
    expect(dns.namesOf('10.0.0.1')).toEqual([]);
    expect(dns.size).toEqual({ addresses: 0, names: 0 });
  });

  it('keeps at most maxNamesPerAddress names, dropping the least recently seen', () => {
    const dns = new DnsNameCache({ maxNamesPerAddress: 3 });
    for (let i = 0; i < 5; i++) dns.learn({ query: `n${i}.example`, ips: ['10.0.0.1'], ttlSeconds: 600, at: at(i) });
    expect(dns.namesOf('10.0.0.1')).toEqual(['n2.example', 'n3.example', 'n4.example']);
    dns.learn({ query: 'ancient.example', ips: ['10.0.0.1'], ttlSeconds: 600, at: at(0.5) });
    expect(dns.namesOf('10.0.0.1')).toEqual(['n2.example', 'n3.example', 'n4.example']);
  });

  it('drops the least recently answered address when too many are tracked', () => {
    const dns = new DnsNameCache({ maxAddresses: 2 });
    dns.learn({ query: 'a.example', ips: ['10.0.0.1'], ttlSeconds: 600, at: at(0) });
    dns.learn({ query: 'b.example', ips: ['10.0.0.2'], ttlSeconds: 600, at: at(1) });
    dns.learn({ query: 'a2.example', ips: ['10.0.0.1'], ttlSeconds: 600, at: at(2) });
    dns.learn({ query: 'c.example', ips: ['10.0.0.3'], ttlSeconds: 600, at: at(3) });
    expect(dns.namesOf('10.0.0.2')).toEqual([]);
    expect(dns.namesOf('10.0.0.1')).toEqual(['a.example', 'a2.example']);
    expect(dns.namesOf('10.0.0.3')).toEqual(['c.example']);
  });

  it('stays within its caps under 100 000 hostile answers for distinct names and addresses', () => {
    const caps = { maxAddresses: 4096, maxNamesPerAddress: 8, maxNames: 16384 };
    const dns = new DnsNameCache(caps);
    for (let i = 0; i < 100_000; i++) {
      const ips = [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, `2001:db8::${(i % 977).toString(16)}`];
      dns.learn({ query: `${i.toString(36)}.attacker.example`, ips, ttlSeconds: 2_147_483_647, at: at(i / 1000) });
      if (i % 1000 === 0) {
        expect(dns.size.addresses).toBeLessThanOrEqual(caps.maxAddresses);
        expect(dns.size.names).toBeLessThanOrEqual(caps.maxNames);
      }
    }
    expect(dns.size.addresses).toBeLessThanOrEqual(caps.maxAddresses);
    expect(dns.size.names).toBeLessThanOrEqual(caps.maxNames);
    expect(dns.namesOf('2001:db8::1').length).toBeLessThanOrEqual(caps.maxNamesPerAddress);
    // What was answered last is still there.
    expect(dns.namesOf('10.1.134.159')).toEqual([`${(99_999).toString(36)}.attacker.example`]);
  });

  it('stays within its default caps too', () => {
    const dns = new DnsNameCache();
    for (let i = 0; i < 100_000; i++) {
      dns.learn({
        query: `${i}.x`,
        ips: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, '10.255.255.255'],
        ttlSeconds: 86_400,
        at: at(i),
      });
    }
    expect(dns.size.addresses).toBeLessThanOrEqual(16384);
    expect(dns.size.names).toBeLessThanOrEqual(65536);
    expect(dns.namesOf('10.255.255.255')).toHaveLength(16);
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EndpointTable } from '../../../src/observer/metadata/endpoints.js';
import { readInventory } from '../../../src/observer/metadata/inventory.js';

function tableFrom(yaml: string, cacheSize?: number): EndpointTable {
  const path = join(mkdtempSync(join(tmpdir(), 'hubble-ts-ep-')), 'endpoints.yaml');
  writeFileSync(path, yaml);
  return new EndpointTable(readInventory(path, 'default').endpoints, { cacheSize });
}

const NESTED = `
endpoints:
  - {cidrs: [0.0.0.0/0], labels: {net: everything}}
  - {cidrs: [10.0.0.0/8], labels: {net: ten}}
  - {cidrs: [10.1.0.0/16], labels: {net: ten-one}}
  - {cidrs: [10.1.2.0/24], labels: {net: ten-one-two}}
  - {cidrs: [10.1.2.3], labels: {net: host}}
  - {cidrs: [10.1.2.128/25], labels: {net: upper-half}}
  - {cidrs: ["::/0"], labels: {net: v6-everything}}
  - {cidrs: ["fd00::/8"], labels: {net: fd}}
  - {cidrs: ["fd00:1::/32"], labels: {net: fd-one}}
  - {cidrs: ["fd00:1:2::/48"], labels: {net: fd-one-two}}
  - {cidrs: ["fd00:1:2:3::/64"], labels: {net: fd-64}}
  - {cidrs: ["fd00:1:2:3:4::/80"], labels: {net: fd-80}}
  - {cidrs: ["fd00:1:2:3:4:5:6::/112"], labels: {net: fd-112}}
  - {cidrs: ["fd00:1:2:3:4:5:6:7"], labels: {net: fd-host}}
`;

describe('endpoint lookup by address', () => {
  const table = tableFrom(NESTED);
  const net = (ip: string) =>
    table
      .endpointByIP(ip)
      ?.labels.find((l) => l.startsWith('k8s:net='))
      ?.slice('k8s:net='.length);

  it.each([
    ['10.1.2.3', 'host'],
    ['10.1.2.4', 'ten-one-two'],
    ['10.1.2.127', 'ten-one-two'],
    ['10.1.2.128', 'upper-half'],
    ['10.1.2.255', 'upper-half'],
    ['10.1.3.1', 'ten-one'],
    ['10.2.0.1', 'ten'],
    ['11.0.0.1', 'everything'],
    ['255.255.255.255', 'everything'],
    ['fd00:1:2:3:4:5:6:7', 'fd-host'],
    ['fd00:1:2:3:4:5:6:8', 'fd-112'],
    ['fd00:1:2:3:4:5:7:0', 'fd-80'],
    ['fd00:1:2:3:4:6::', 'fd-80'],
    ['fd00:1:2:3:ffff::', 'fd-64'],
    ['fd00:1:2:3:5::1', 'fd-64'],
    ['fd00:1:2:4::1', 'fd-one-two'],
    ['fd00:1:3::1', 'fd-one'],
    ['fd00:2::1', 'fd'],
    ['fdff::1', 'fd'],
    ['2001:db8::1', 'v6-everything'],
    ['::ffff:10.1.2.3', 'v6-everything'],
  ])('matches %s to the longest prefix holding it (%s)', (ip, expected) => {
    expect(net(ip)).toBe(expected);
    expect(net(ip)).toBe(expected); // and again, from the cache
  });

  it('finds exact addresses written in another spelling', () => {
    expect(net('FD00:1:2:3:4:5:6:0007')).toBe('fd-host');
    expect(net('fd00:0001:0002:0003:0004:0005:0006:0007')).toBe('fd-host');
  });

  it('answers undefined for text that is not an address, and for addresses nobody claims', () => {
    const sparse = tableFrom('endpoints:\n  - {cidrs: [10.0.0.0/8], namespace: a}\n');
    for (const ip of ['', 'garbage', '10.0.0', '1.2.3.4', 'fd00::1']) expect(sparse.endpointByIP(ip)).toBeUndefined();
    expect(sparse.endpointByIP('10.255.0.1')?.namespace).toBe('a');
  });

  it('returns the same frozen object for every address of an endpoint', () => {
    const t = tableFrom('endpoints:\n  - {cidrs: [10.0.0.1, "fd00::1", 10.9.0.0/16], namespace: a, id: 42}\n');
    const ep = t.endpointByIP('10.0.0.1')!;
    expect(t.endpointByIP('fd00::1')).toBe(ep);
    expect(t.endpointByIP('10.9.3.4')).toBe(ep);
    expect(t.endpointById(42)).toBe(ep);
    expect(t.endpointById(43)).toBeUndefined();
    expect(Object.isFrozen(ep)).toBe(true);
  });

  it('remembers no more answers than its cache holds, however many addresses it is asked about', () => {
    const t = tableFrom('endpoints:\n  - {cidrs: [10.0.0.0/8, "fd00::/16"], namespace: a}\n', 1000);
    for (let i = 0; i < 100_000; i++) {
      const ip = i % 2 === 0 ? `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` : `2001:db8::${i.toString(16)}`;
      t.endpointByIP(ip);
      expect(t.cachedAddresses).toBeLessThanOrEqual(1000);
    }
    expect(t.endpointByIP('10.1.2.3')?.namespace).toBe('a');
  });
});

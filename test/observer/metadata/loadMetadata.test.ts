import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMetadata } from '../../../src/observer/metadata/index.js';
import { ConfigError } from '../../../src/server/config.js';

const FIXTURE = new URL('../../fixtures/endpoints.yaml', import.meta.url).pathname;

describe('loadMetadata', () => {
  it('answers every getter from the inventory, the host and what it learns', () => {
    const m = loadMetadata({ endpointsFile: FIXTURE, clusterName: 'default' });
    expect(m.endpoints.endpointByIP('10.0.1.15')?.podName).toBe('frontend-7d4b9c-x2k1p');
    expect(m.endpoints.endpointByIP('fd00::15')?.podName).toBe('frontend-7d4b9c-x2k1p');
    expect(m.endpoints.endpointByIP('10.0.2.200')?.labels).toContain('k8s:pool=spot');
    expect(m.endpoints.endpointByIP('10.0.2.7')?.labels).not.toContain('k8s:pool=spot');
    expect(m.endpoints.endpointById(1234)?.podName).toBe('frontend-7d4b9c-x2k1p');
    expect(m.endpoints.endpointByIP('8.8.8.8')).toBeUndefined();
    expect(m.identities.identityOf('8.8.8.8')).toEqual({ identity: 2, labels: ['reserved:world'] });
    expect(m.identities.identityOf('127.0.0.1')).toEqual({ identity: 1, labels: ['reserved:host'] });

    m.dnsLearner.learn({
      query: 'frontend.shop.svc.cluster.local.',
      ips: ['10.96.0.10'],
      ttlSeconds: 30,
      at: { seconds: 1, nanos: 0 },
    });
    expect(m.dns.namesOf('10.96.0.10')).toEqual(['frontend.shop.svc.cluster.local']);

    m.linkRegistry.register(4000, 'from-pcapng');
    expect(m.links.linkName(4000)).toBe('from-pcapng');
  });

  it.each([
    ['the listed port', '10.96.0.10', 80, { name: 'frontend', namespace: 'shop' }],
    ['another listed port', '10.96.0.10', 443, { name: 'frontend', namespace: 'shop' }],
    ['a bracketed IPv6 frontend', 'fd00::a', 80, { name: 'frontend', namespace: 'shop' }],
    ['a port not listed', '10.96.0.10', 8080, undefined],
    ['any port of a bare-address frontend', '10.96.0.11', 9999, { name: 'cart', namespace: 'shop' }],
    ['an address that is no frontend', '10.0.1.15', 80, undefined],
  ])('finds services by frontend: %s', (_case, ip, port, expected) => {
    const m = loadMetadata({ endpointsFile: FIXTURE, clusterName: 'default' });
    expect(m.services.serviceAt(ip, port)).toEqual(expected);
  });

  it('prefers a frontend listed with its port over a bare-address one for the same address', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'hubble-ts-meta-')), 'endpoints.yaml');
    writeFileSync(
      path,
      'services:\n  - {name: web, namespace: s, frontends: ["10.96.0.1:80"]}\n  - {name: all, namespace: s, frontends: ["10.96.0.1"]}\n',
    );
    const m = loadMetadata({ endpointsFile: path, clusterName: 'default' });
    expect(m.services.serviceAt('10.96.0.1', 80)?.name).toBe('web');
    expect(m.services.serviceAt('10.96.0.1', 81)?.name).toBe('all');
  });

  it('switches unclaimed addresses to world-ipv4/world-ipv6 when the inventory says dualStack', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'hubble-ts-meta-')), 'endpoints.yaml');
    writeFileSync(path, 'dualStack: true\n');
    const m = loadMetadata({ endpointsFile: path, clusterName: 'default' });
    expect(m.identities.identityOf('8.8.8.8')).toEqual({ identity: 9, labels: ['reserved:world-ipv4'] });
    expect(m.identities.identityOf('2001:4860:4860::8888')).toEqual({ identity: 10, labels: ['reserved:world-ipv6'] });
  });

  it('works without an inventory: no endpoints, no services, host and world identities', () => {
    const m = loadMetadata({ clusterName: 'default' });
    expect(m.endpoints.endpointByIP('10.0.1.15')).toBeUndefined();
    expect(m.services.serviceAt('10.96.0.10', 80)).toBeUndefined();
    expect(m.identities.identityOf('::1').identity).toBe(1);
  });

  it('refuses a missing inventory file with a ConfigError that names the flag and the file', () => {
    expect(() => loadMetadata({ endpointsFile: '/nonexistent/inventory.yaml', clusterName: 'default' })).toThrow(
      ConfigError,
    );
    expect(() => loadMetadata({ endpointsFile: '/nonexistent/inventory.yaml', clusterName: 'default' })).toThrow(
      '--endpoints: cannot read endpoints file /nonexistent/inventory.yaml: no such file',
    );
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCidr, readInventory } from '../../../src/observer/metadata/inventory.js';
import { preferredIdentity } from '../../../src/observer/metadata/labels.js';
import { ConfigError } from '../../../src/server/config.js';

const FIXTURE = new URL('../../fixtures/endpoints.yaml', import.meta.url).pathname;

function inventoryFile(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'hubble-ts-inv-')), 'endpoints.yaml');
  writeFileSync(path, text);
  return path;
}

describe('endpoint inventory', () => {
  it('reads the documented example into the endpoints and services Hubble would print', () => {
    const inv = readInventory(FIXTURE, 'default');
    expect(inv.dualStack).toBe(false);
    expect(inv.endpoints).toHaveLength(4);

    const frontend = inv.endpoints[0]!;
    expect(frontend.prefixes.map((p) => p.text)).toEqual(['10.0.1.15/32', 'fd00::15/128']);
    expect(frontend.endpoint).toEqual({
      ID: 1234,
      identity: frontend.endpoint.identity,
      clusterName: 'default',
      namespace: 'shop',
      podName: 'frontend-7d4b9c-x2k1p',
      labels: [
        'k8s:app=frontend',
        'k8s:io.cilium.k8s.policy.cluster=default',
        'k8s:io.cilium.k8s.policy.serviceaccount=frontend',
        'k8s:io.kubernetes.pod.namespace=shop',
        'k8s:tier=web',
      ],
      workloads: [{ kind: 'Deployment', name: 'frontend' }],
    });
    expect(frontend.endpoint.identity).toBe(preferredIdentity(frontend.endpoint.labels));

    const cart = inv.endpoints[1]!.endpoint;
    expect(cart.identity).toBe(12345);
    expect(cart.labels).toEqual([
      'container:runtime=containerd',
      'k8s:app=cart',
      'k8s:io.cilium.k8s.policy.cluster=default',
      'k8s:io.kubernetes.pod.namespace=shop',
    ]);
    expect(cart.ID).toBe(0);

    const workers = inv.endpoints[2]!;
    expect(workers.prefixes.map((p) => p.text)).toEqual(['10.0.2.0/24', 'fd00:2::/64']);
    expect(workers.endpoint.clusterName).toBe('prod-eu');
    expect(workers.endpoint.labels).toContain('k8s:io.cilium.k8s.policy.cluster=prod-eu');
    expect(workers.endpoint.podName).toBe('');

    expect(inv.services.map((s) => [s.service, s.frontends])).toEqual([
      [
        { name: 'frontend', namespace: 'shop' },
        [
          { ip: '10.96.0.10', port: 80 },
          { ip: '10.96.0.10', port: 443 },
          { ip: 'fd00::a', port: 80 },
        ],
      ],
      [{ name: 'cart', namespace: 'shop' }, [{ ip: '10.96.0.11', port: undefined }]],
    ]);
  });

  it('hands out frozen objects, so no caller can change what another flow sees', () => {
    const ep = readInventory(FIXTURE, 'default').endpoints[0]!.endpoint;
    expect(Object.isFrozen(ep)).toBe(true);
    expect(Object.isFrozen(ep.labels)).toBe(true);
    expect(Object.isFrozen(ep.workloads[0])).toBe(true);
  });

  it('gives the same labels the same identity, and a given identity to every entry with those labels', () => {
    const inv = readInventory(
      inventoryFile(`
endpoints:
  - {cidrs: [10.0.0.1], namespace: a, labels: {app: x}}
  - {cidrs: [10.0.0.2], namespace: a, labels: ["app=x"]}
  - {cidrs: [10.0.0.3], namespace: a, labels: {app: y}, identity: 4242}
  - {cidrs: [10.0.0.4], namespace: a, labels: {app: y}}
  - {cidrs: [10.0.0.5], namespace: b, labels: {app: x}}
`),
      'c1',
    );
    const ids = inv.endpoints.map((e) => e.endpoint.identity);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).toBe(4242);
    expect(ids[3]).toBe(4242);
    expect(ids[4]).not.toBe(ids[0]);
    for (const id of [ids[0]!, ids[4]!]) {
      expect(id).toBeGreaterThanOrEqual(256);
      expect(id).toBeLessThanOrEqual(65535);
    }
  });

  it('derives identities that do not depend on the order of entries, and moves a colliding label set off a taken number', () => {
    const a = `  - {cidrs: [10.0.0.1], namespace: a, labels: {app: x}}\n`;
    const b = `  - {cidrs: [10.0.0.2], namespace: b, labels: {app: z}}\n`;
    const one = readInventory(inventoryFile(`endpoints:\n${a}${b}`), 'c');
    const two = readInventory(inventoryFile(`endpoints:\n${b}${a}`), 'c');
    expect(one.endpoints[0]!.endpoint.identity).toBe(two.endpoints[1]!.endpoint.identity);
    expect(one.endpoints[1]!.endpoint.identity).toBe(two.endpoints[0]!.endpoint.identity);

    const wanted = one.endpoints[0]!.endpoint.identity;
    const blocked = readInventory(
      inventoryFile(`endpoints:\n${a}  - {cidrs: [10.0.0.9], labels: {other: thing}, identity: ${wanted}}\n`),
      'c',
    );
    expect(blocked.endpoints[0]!.endpoint.identity).toBe(wanted === 65535 ? 256 : wanted + 1);
  });

  it('keeps label values as written and prints empty values as a bare key', () => {
    const inv = readInventory(
      inventoryFile(
        `endpoints:\n  - cidrs: [10.0.0.1]\n    labels: {version: 1.10, canary: true, marker: , "reserved:host": ""}\n`,
      ),
      'c',
    );
    expect(inv.endpoints[0]!.endpoint.labels).toEqual([
      'k8s:canary=true',
      'k8s:marker',
      'k8s:version=1.10',
      'reserved:host',
    ]);
  });

  it.each([
    ['an empty file', ''],
    ['only comments', '# nothing yet\n'],
    ['empty lists', 'endpoints: []\nservices:\n'],
  ])('accepts %s as an empty inventory', (_case, text) => {
    const inv = readInventory(inventoryFile(text), 'c');
    expect(inv.endpoints).toEqual([]);
    expect(inv.services).toEqual([]);
  });

  const EP = 'endpoints:\n  - cidrs: [10.0.0.1]\n    namespace: shop\n';
  it.each([
    ['broken YAML', 'endpoints: [\n', /endpoints\.yaml:\d+: /],
    [
      'a top-level list',
      '- 10.0.0.1\n',
      /endpoints\.yaml:1: the file: expected a mapping with endpoints: and services:/,
    ],
    [
      'an unknown top-level key',
      'endpoint: []\n',
      /endpoints\.yaml:1: the file: unknown key "endpoint" \(known: dualStack, endpoints, services\)/,
    ],
    ['dualStack not a boolean', 'dualStack: yes\n', /:1: dualStack: expected true or false/],
    ['endpoints not a list', 'endpoints: {a: 1}\n', /:1: endpoints: expected a list/],
    [
      'an entry that is not a mapping',
      'endpoints:\n  - 10.0.0.1\n',
      /:2: endpoints\[0\]: expected a mapping with cidrs:/,
    ],
    [
      'an unknown endpoint key',
      `${EP}    podName: x\n`,
      /:4: endpoints\[0\]: unknown key "podName" \(known: cidrs, cluster, id, identity, labels, namespace, pod, serviceAccount, workload\)/,
    ],
    ['a missing cidrs', 'endpoints:\n  - namespace: shop\n', /:2: endpoints\[0\]: cidrs: is required/],
    [
      'an empty cidrs',
      'endpoints:\n  - cidrs: []\n    namespace: shop\n',
      /:2: endpoints\[0\]\.cidrs: list at least one address or CIDR/,
    ],
    [
      'a bad address',
      'endpoints:\n  - cidrs: [10.0.0.1, 10.0.0.256]\n    namespace: shop\n',
      /:2: endpoints\[0\]\.cidrs\[1\]: "10\.0\.0\.256" is not an IP address or CIDR/,
    ],
    [
      'a CIDR with host bits',
      'endpoints:\n  - namespace: shop\n    cidrs:\n      - 10.0.0.0/8\n      - 10.0.1.15/24\n',
      /:5: endpoints\[0\]\.cidrs\[1\]: "10\.0\.1\.15\/24" has host bits set/,
    ],
    [
      'a number where an address belongs',
      'endpoints:\n  - cidrs: [10]\n    namespace: shop\n',
      /endpoints\[0\]\.cidrs\[0\]: expected a string, got 10/,
    ],
    [
      'a CIDR listed twice in one entry',
      'endpoints:\n  - cidrs: [10.0.0.1, 10.0.0.1/32]\n    namespace: shop\n',
      /endpoints\[0\]\.cidrs\[1\]: 10\.0\.0\.1\/32 is listed twice/,
    ],
    [
      'the same CIDR in two entries',
      `${EP}  - cidrs: ["fd00::1", 10.0.0.1]\n    namespace: other\n`,
      /:4: endpoints\[1\]\.cidrs\[1\]: 10\.0\.0\.1\/32 is already claimed by endpoints\[0\] \(line 2\)/,
    ],
    [
      'the same IPv6 CIDR spelt differently',
      'endpoints:\n  - {cidrs: ["fd00::/64"], namespace: a}\n  - {cidrs: ["FD00:0::/64"], namespace: b}\n',
      /endpoints\[1\]\.cidrs\[0\]: fd00::\/64 is already claimed by endpoints\[0\]/,
    ],
    [
      'a label not key=value',
      `${EP}    labels: ["app:frontend"]\n`,
      /:4: endpoints\[0\]\.labels\[0\]: label "app:frontend" is not key=value/,
    ],
    [
      'a label with an unknown source',
      `${EP}    labels: ["k8:app=x"]\n`,
      /endpoints\[0\]\.labels\[0\]: label source "k8" is not one of k8s, container/,
    ],
    [
      'a label key with a space',
      `${EP}    labels: ["app =x"]\n`,
      /label key "app " is not a valid Kubernetes label key/,
    ],
    [
      'a label value with a space',
      `${EP}    labels: {app: "front end"}\n`,
      /endpoints\[0\]\.labels\.app: label value "front end" \(key "app"\) is not a valid Kubernetes label value/,
    ],
    [
      'a label given twice',
      `${EP}    labels: ["app=a", "container:app=b"]\n`,
      /endpoints\[0\]\.labels\[1\]: label key "app" is given twice/,
    ],
    [
      'a nested label value',
      `${EP}    labels: {app: {name: x}}\n`,
      /endpoints\[0\]\.labels\.app: a label value must be a plain value/,
    ],
    [
      'labels as a string',
      `${EP}    labels: app=frontend\n`,
      /endpoints\[0\]\.labels: expected a mapping \{key: value\} or a list/,
    ],
    [
      'a label contradicting the namespace',
      `${EP}    labels: ["io.kubernetes.pod.namespace=other"]\n`,
      /k8s:io\.kubernetes\.pod\.namespace=other contradicts the entry's own fields \(expected k8s:io\.kubernetes\.pod\.namespace=shop\)/,
    ],
    [
      'a pod without a namespace',
      'endpoints:\n  - cidrs: [10.0.0.1]\n    pod: web-1\n',
      /:3: endpoints\[0\]\.pod: a pod needs a namespace/,
    ],
    [
      'an entry with nothing but addresses',
      'endpoints:\n  - cidrs: [10.0.0.1]\n',
      /:2: endpoints\[0\]: says nothing about its addresses/,
    ],
    [
      'a bad namespace',
      `endpoints:\n  - cidrs: [10.0.0.1]\n    namespace: "shop floor"\n`,
      /:3: endpoints\[0\]\.namespace: "shop floor" is not a valid name/,
    ],
    [
      'identity zero',
      `${EP}    identity: 0\n`,
      /:4: endpoints\[0\]\.identity: expected an integer from 1 to 4294967295, got 0/,
    ],
    [
      'identity as text',
      `${EP}    identity: twelve\n`,
      /endpoints\[0\]\.identity: expected an integer from 1 to 4294967295, got "twelve"/,
    ],
    [
      'an endpoint id out of range',
      `${EP}    id: 70000\n`,
      /endpoints\[0\]\.id: expected an integer from 1 to 65535, got 70000/,
    ],
    [
      'a duplicate endpoint id',
      `${EP}    id: 7\n  - {cidrs: [10.0.0.2], namespace: a, id: 7}\n`,
      /:5: endpoints\[1\]\.id: endpoint id 7 is already used by endpoints\[0\] \(line 2\)/,
    ],
    [
      'a workload without a name',
      `${EP}    workload: {kind: Deployment}\n`,
      /:4: endpoints\[0\]\.workload: needs both kind: and name:/,
    ],
    [
      'a workload with an unknown key',
      `${EP}    workload: {kind: Deployment, name: a, replicas: 3}\n`,
      /endpoints\[0\]\.workload: unknown key "replicas"/,
    ],
    ['services not a list', 'services: frontend\n', /:1: services: expected a list/],
    [
      'a service without a namespace',
      'services:\n  - name: web\n    frontends: ["10.96.0.1:80"]\n',
      /:2: services\[0\]: needs name: and namespace:/,
    ],
    [
      'a service without frontends',
      'services:\n  - {name: web, namespace: shop}\n',
      /services\[0\]: frontends: is required/,
    ],
    [
      'an unknown service key',
      'services:\n  - {name: web, namespace: shop, frontends: ["10.96.0.1:80"], port: 80}\n',
      /services\[0\]: unknown key "port" \(known: frontends, name, namespace\)/,
    ],
    [
      'a frontend that is not an address',
      'services:\n  - {name: web, namespace: shop, frontends: ["web:80"]}\n',
      /services\[0\]\.frontends\[0\]: "web:80" is not IP:port, \[IPv6\]:port or an IP address/,
    ],
    [
      'a frontend port out of range',
      'services:\n  - {name: web, namespace: shop, frontends: ["10.96.0.1:0"]}\n',
      /services\[0\]\.frontends\[0\]: "10\.96\.0\.1:0" has an invalid port/,
    ],
    [
      'an unbracketed IPv6 frontend with a port in brackets missing',
      'services:\n  - {name: web, namespace: shop, frontends: ["[fd00::a]80"]}\n',
      /"\[fd00::a\]80" should be \[IPv6\]:port/,
    ],
    [
      'a frontend in two services',
      'services:\n  - {name: a, namespace: s, frontends: ["10.96.0.1:80"]}\n  - {name: b, namespace: s, frontends: ["10.96.0.1:80"]}\n',
      /:3: services\[1\]\.frontends\[0\]: "10\.96\.0\.1:80" is already a frontend of services\[0\] s\/a \(line 2\)/,
    ],
  ])('refuses %s with a message naming the file, line and entry', (_case, text, message) => {
    const file = inventoryFile(text);
    let error: unknown;
    try {
      readInventory(file, 'c');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(`endpoints file ${file}`);
    expect((error as Error).message).toMatch(message);
  });

  it('says plainly when the file does not exist', () => {
    expect(() => readInventory('/nonexistent/endpoints.yaml', 'c')).toThrow(
      new ConfigError('--endpoints: cannot read endpoints file /nonexistent/endpoints.yaml: no such file'),
    );
  });

  it('reads frontends written as an unbracketed IPv6 address as an address for every port', () => {
    const inv = readInventory(
      inventoryFile('services:\n  - {name: a, namespace: s, frontends: ["fd00::a:80", "10.96.0.1"]}\n'),
      'c',
    );
    expect(inv.services[0]!.frontends).toEqual([
      { ip: 'fd00::a:80', port: undefined },
      { ip: '10.96.0.1', port: undefined },
    ]);
  });
});

describe('cidrs: entries', () => {
  it.each([
    ['10.0.1.15', '10.0.1.15/32'],
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['fd00::15', 'fd00::15/128'],
    ['FD00:0:0:0:0:0:0:0015', 'fd00::15/128'],
    ['fd00:2::/64', 'fd00:2::/64'],
    ['::/0', '::/0'],
  ])('reads %s as %s', (text, canonical) => {
    const p = parseCidr(text);
    expect('error' in p ? p.error : p.text).toBe(canonical);
  });

  it.each([
    ['10.0.1.15/24', /host bits set: write 10\.0\.1\.0\/24 for the network or 10\.0\.1\.15\/32/],
    ['fd00::1/64', /host bits set: write fd00::\/64 for the network or fd00::1\/128/],
    ['10.0.0.0/33', /invalid prefix length \(0 to 32 for IPv4/],
    ['fd00::/129', /invalid prefix length \(0 to 128 for IPv6/],
    ['10.0.0.0/08', /invalid prefix length/],
    ['10.0.0.0/', /invalid prefix length/],
    ['10.0.0.300/32', /is not an IP address or CIDR/],
    ['fd00::15%eth0', /is not an IP address or CIDR/],
  ])('refuses %s', (text, message) => {
    const p = parseCidr(text);
    expect('error' in p ? p.error : p.text).toMatch(message);
  });
});

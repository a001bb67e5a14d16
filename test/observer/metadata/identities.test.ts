import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { HostIdentities, ReservedIdentity, unclaimedEndpoint } from '../../../src/observer/metadata/identities.js';

const HOST = { identity: 1, labels: ['reserved:host'] };
const WORLD = { identity: 2, labels: ['reserved:world'] };
const WORLD_V4 = { identity: 9, labels: ['reserved:world-ipv4'] };
const WORLD_V6 = { identity: 10, labels: ['reserved:world-ipv6'] };

describe('identities of unclaimed addresses', () => {
  const hostAddresses = () => ['192.168.1.20', 'fe80::1c2:3ff:fe04:506', '2001:DB8::20'];

  it.each([
    ['192.168.1.20', HOST, HOST],
    ['127.0.0.1', HOST, HOST],
    ['127.1.2.3', HOST, HOST],
    ['::1', HOST, HOST],
    ['fe80::1c2:3ff:fe04:506', HOST, HOST],
    ['2001:db8::20', HOST, HOST],
    ['192.168.1.21', WORLD, WORLD_V4],
    ['8.8.8.8', WORLD, WORLD_V4],
    ['2001:db8::21', WORLD, WORLD_V6],
    ['::ffff:8.8.8.8', WORLD, WORLD_V6],
  ])('gives %s the single-stack and dual-stack identity Cilium would', (ip, single, dual) => {
    expect(new HostIdentities({ hostAddresses }).identityOf(ip)).toEqual(single);
    expect(new HostIdentities({ hostAddresses, dualStack: true }).identityOf(ip)).toEqual(dual);
  });

  it("treats this machine's real interface addresses as reserved:host by default", () => {
    const ids = new HostIdentities();
    for (const list of Object.values(networkInterfaces())) {
      for (const info of list ?? []) expect(ids.identityOf(info.address).identity).toBe(ReservedIdentity.HOST);
    }
  });

  it('notices addresses that appear after start, once the refresh interval has passed', () => {
    let addresses = ['10.0.0.5'];
    let now = 0;
    const ids = new HostIdentities({ hostAddresses: () => addresses, refreshMs: 30_000, now: () => now });
    expect(ids.identityOf('10.0.0.6')).toEqual(WORLD);
    addresses = ['10.0.0.5', '10.0.0.6'];
    now = 29_999;
    expect(ids.identityOf('10.0.0.6')).toEqual(WORLD);
    now = 30_000;
    expect(ids.identityOf('10.0.0.6')).toEqual(HOST);
  });

  it('shares frozen answers between flows', () => {
    const ids = new HostIdentities({ hostAddresses: () => [] });
    expect(ids.identityOf('8.8.8.8')).toBe(ids.identityOf('1.1.1.1'));
    expect(Object.isFrozen(ids.identityOf('8.8.8.8').labels)).toBe(true);
  });

  it('builds the endpoint Hubble prints for such an address: identity and labels, nothing else', () => {
    const world = new HostIdentities({ hostAddresses: () => [] }).identityOf('8.8.8.8');
    const ep = unclaimedEndpoint(world);
    expect(ep).toEqual({
      ID: 0,
      identity: 2,
      clusterName: '',
      namespace: '',
      labels: ['reserved:world'],
      podName: '',
      workloads: [],
    });
    expect(unclaimedEndpoint(world)).toBe(ep);
    expect(Object.isFrozen(ep)).toBe(true);
  });
});

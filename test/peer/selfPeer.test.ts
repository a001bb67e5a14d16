// How this node announces itself, and how two sources naming the same node are merged: what a relay would dial.
import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ChangeNotificationType } from '../../src/api/peer/peer.js';
import { PeerDirectory } from '../../src/peer/directory.js';
import {
  hubbleTlsServerName,
  peerName,
  pickPrimaryAddress,
  selfPeer,
  type SelfPeerOptions,
} from '../../src/peer/selfPeer.js';
import { StaticPeerSource } from '../../src/peer/source.js';

describe('this node as a peer', () => {
  const base: SelfPeerOptions = {
    nodeName: 'node-1',
    clusterName: 'default',
    socketPath: '/run/h.sock',
    primaryAddress: () => '192.0.2.7',
  };
  it.each<[string, Partial<SelfPeerOptions>, { name: string; address: string; tlsServerName?: string }, string]>([
    ['no TCP listener: its unix socket, no TLS', {}, { name: 'node-1', address: 'unix:///run/h.sock' }, 'unix socket'],
    [
      'listening on a named address, plaintext',
      { tcp: { listenHost: '10.0.0.1', port: 4244, tls: false } },
      { name: 'node-1', address: '10.0.0.1:4244' },
      'listen address',
    ],
    [
      'listening on every address (":4244"), with TLS: the primary IP and the derived server name',
      { tcp: { listenHost: '[::]', port: 4244, tls: true } },
      { name: 'node-1', address: '192.0.2.7:4244', tlsServerName: 'node-1.default.hubble-grpc.cilium.io' },
      'primary address',
    ],
    [
      'port 0: the port actually bound',
      { tcp: { listenHost: '127.0.0.1', port: 40123, tls: false } },
      { name: 'node-1', address: '127.0.0.1:40123' },
      'listen address',
    ],
    [
      'an advertise address without a port: the bound port',
      { tcp: { listenHost: '', port: 4244, tls: false }, advertise: { host: 'node-1.example', port: undefined } },
      { name: 'node-1', address: 'node-1.example:4244' },
      'advertise address',
    ],
    [
      'an IPv6 advertise address with its own port (a NAT in front)',
      { tcp: { listenHost: '0.0.0.0', port: 4244, tls: false }, advertise: { host: 'fd00::7', port: 14244 } },
      { name: 'node-1', address: '[fd00::7]:14244' },
      'advertise address',
    ],
    [
      'another cluster: "cluster/node", the cluster in the server name, dots made hyphens',
      { nodeName: 'n.1', clusterName: 'prod.eu', tcp: { listenHost: '[::1]', port: 4244, tls: true } },
      { name: 'prod.eu/n.1', address: '[::1]:4244', tlsServerName: 'n-1.prod-eu.hubble-grpc.cilium.io' },
      'listen address',
    ],
    [
      'every address but none usable: loopback, flagged for a warning',
      { tcp: { listenHost: '', port: 4244, tls: false }, primaryAddress: () => undefined },
      { name: 'node-1', address: '127.0.0.1:4244' },
      'loopback',
    ],
  ])('%s', (_what, opts, peer, from) => {
    expect(selfPeer({ ...base, ...opts })).toEqual({ peer, addressFrom: from });
  });

  it('names peers and TLS servers as Hubble does', () => {
    expect(peerName('n1', 'default')).toBe('n1');
    expect(peerName('n1', '')).toBe('n1');
    expect(peerName('n1', 'prod')).toBe('prod/n1');
    expect(hubbleTlsServerName('moseisley', 'tatooine')).toBe('moseisley.tatooine.hubble-grpc.cilium.io');
    expect(hubbleTlsServerName('n1', '')).toBe('n1.default.hubble-grpc.cilium.io');
    expect(hubbleTlsServerName('', 'prod')).toBe('');
  });
});

describe("this host's primary address", () => {
  const routes = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
`;
  const addr = (address: string, family: 'IPv4' | 'IPv6', internal = false) =>
    ({ address, family, internal }) as NetworkInterfaceInfo;
  const interfaces = {
    lo: [addr('127.0.0.1', 'IPv4', true), addr('::1', 'IPv6', true)],
    docker0: [addr('172.17.0.1', 'IPv4')],
    wlan0: [addr('192.168.1.5', 'IPv4')],
    eth0: [addr('fe80::1', 'IPv6'), addr('192.0.2.2', 'IPv4'), addr('fd00::2', 'IPv6')],
  };

  it.each<[string, string, NodeJS.Dict<NetworkInterfaceInfo[]>, string | undefined]>([
    ["the default route's interface, lowest metric first", routes, interfaces, '192.0.2.2'],
    ['no routing table: the first usable IPv4 address', '', interfaces, '172.17.0.1'],
    [
      'no IPv4 at all: a global IPv6 address, never link-local',
      '',
      { lo: interfaces.lo, eth0: [addr('fe80::1', 'IPv6'), addr('fd00::2', 'IPv6')] },
      'fd00::2',
    ],
    ['only loopback and link-local: none', '', { lo: interfaces.lo, eth0: [addr('169.254.3.3', 'IPv4')] }, undefined],
  ])('%s', (_what, routeText, ifaces, expected) => {
    expect(pickPrimaryAddress(routeText, ifaces)).toBe(expected);
  });
});

describe('two sources naming the same node', () => {
  it('announces the first source’s entry, and the next one’s when the first stops naming it', async () => {
    const file = new StaticPeerSource('file', [
      { name: 'node-1', address: '203.0.113.1:4244', tlsServerName: 'n.example' },
    ]);
    const self = new StaticPeerSource('this node', [{ name: 'node-1', address: '192.0.2.7:4244' }]);
    const directory = new PeerDirectory([file, self]);
    await directory.start();
    const heard: string[] = [];
    directory.subscribe((type, p) => heard.push(`${ChangeNotificationType[type]} ${p.address}`));
    self.set([{ name: 'node-1', address: '192.0.2.8:4244' }]); // shadowed: nothing to say
    file.set([]);
    file.set([{ name: 'node-1', address: '192.0.2.8:4244' }]); // same as this node's entry: nothing to say
    self.set([]);
    file.set([]);
    expect(heard).toEqual([
      'PEER_ADDED 203.0.113.1:4244',
      'PEER_UPDATED 192.0.2.8:4244',
      'PEER_DELETED 192.0.2.8:4244',
    ]);
    directory.close();
  });
});

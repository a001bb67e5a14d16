// What an operator writing a peers file by hand gets: the peers it means, or one line naming the file, the line, the
// entry and what is wrong.
import { describe, expect, it } from 'vitest';
import { parsePeersFile } from '../../src/peer/peersFile.js';
import { ConfigError } from '../../src/server/config.js';

describe('peers file', () => {
  it.each<[string, string, unknown]>([
    [
      'the documented example',
      `peers:
  - name: alpha            # node name
    address: 10.0.0.1:4244 # its Observer API
    tls-server-name: alpha.default.hubble-grpc.cilium.io   # optional
  - name: beta
    address: 10.0.0.2:4244
`,
      [
        { name: 'alpha', address: '10.0.0.1:4244', tlsServerName: 'alpha.default.hubble-grpc.cilium.io' },
        { name: 'beta', address: '10.0.0.2:4244' },
      ],
    ],
    ['no peers', 'peers: []\n', []],
    ['peers: with nothing after it', 'peers:\n', []],
    [
      'IPv6, host names, cluster-qualified names and unix sockets',
      `peers:
  - {name: prod/gamma, address: "[FD00:0::3]:4244"}
  - {name: delta.example, address: delta.example:4244}
  - {name: local, address: "unix:///var/run/hubble-ts/hubble.sock"}
`,
      [
        { name: 'prod/gamma', address: '[fd00::3]:4244' },
        { name: 'delta.example', address: 'delta.example:4244' },
        { name: 'local', address: 'unix:///var/run/hubble-ts/hubble.sock' },
      ],
    ],
  ])('reads %s', (_what, text, expected) => {
    expect(parsePeersFile(text, 'peers.yaml')).toEqual(expected);
  });

  it.each<[string, string, RegExp]>([
    ['an empty file', '', /^peers file peers\.yaml: the file: expected a mapping with "peers:" \(write "peers: \[\]"/],
    ['a list at the top', '- name: a\n', /^peers file peers\.yaml:1: the file: expected a mapping with "peers:"/],
    [
      'a misspelt top key',
      'peer:\n  - name: a\n',
      /^peers file peers\.yaml:1: the file: unknown key "peer" \(known: peers\)/,
    ],
    ['broken YAML', 'peers:\n  - name: a\n   address: [\n', /^peers file peers\.yaml:3: /],
    [
      'a missing address',
      'peers:\n  - name: alpha\n    address: 10.0.0.1:4244\n  - name: beta\n',
      /^peers file peers\.yaml:4: peers\[1\]: missing "address:"/,
    ],
    [
      'a missing name',
      'peers:\n  - address: 10.0.0.1:4244\n',
      /^peers file peers\.yaml:2: peers\[0\]: missing "name:"/,
    ],
    [
      'an address without a port',
      'peers:\n  - name: alpha\n    address: 10.0.0.1\n',
      /^peers file peers\.yaml:3: peers\[0\]\.address: "10\.0\.0\.1" has no port \(write it as 10\.0\.0\.1:4244\)/,
    ],
    [
      'a port out of range',
      'peers:\n  - name: alpha\n    address: 10.0.0.1:70000\n',
      /:3: peers\[0\]\.address: "70000" is not a port number \(1-65535\)/,
    ],
    [
      'an IPv6 address without brackets',
      'peers:\n  - name: alpha\n    address: "fd00::1:4244"\n',
      /:3: peers\[0\]\.address: "fd00::1:4244" has no port \(write it as \[fd00::1:4244\]:4244\)/,
    ],
    [
      'a host that is not one',
      'peers:\n  - name: alpha\n    address: "not a host:4244"\n',
      /:3: peers\[0\]\.address: "not a host" is not an IP address or host name/,
    ],
    [
      'a unix address without a path',
      'peers:\n  - name: alpha\n    address: unix://sock\n',
      /:3: peers\[0\]\.address: "unix:\/\/sock" is not unix:\/\/\/absolute\/path/,
    ],
    [
      'the same name twice',
      'peers:\n  - name: alpha\n    address: 10.0.0.1:4244\n  - name: alpha\n    address: 10.0.0.2:4244\n',
      /^peers file peers\.yaml:4: peers\[1\]\.name: "alpha" is already the name of the peer on line 2/,
    ],
    [
      'a name with spaces',
      'peers:\n  - name: my node\n    address: 10.0.0.1:4244\n',
      /:2: peers\[0\]\.name: "my node" is not a node name/,
    ],
    [
      'an empty name',
      'peers:\n  - name:\n    address: 10.0.0.1:4244\n',
      /:2: peers\[0\]\.name: expected text, got nothing/,
    ],
    [
      'a misspelt key',
      'peers:\n  - name: alpha\n    address: 10.0.0.1:4244\n    tls_server_name: alpha.example\n',
      /:4: peers\[0\]: unknown key "tls_server_name" \(known: name, address, tls-server-name\)/,
    ],
    [
      'a TLS server name that is not a DNS name',
      'peers:\n  - name: alpha\n    address: 10.0.0.1:4244\n    tls-server-name: "alpha_example"\n',
      /:4: peers\[0\]\.tls-server-name: "alpha_example" is not a DNS name/,
    ],
    [
      'a peer that is not a mapping',
      'peers:\n  - alpha\n',
      /:2: peers\[0\]: expected a mapping with name: and address:/,
    ],
    ['peers that are not a list', 'peers: alpha\n', /:1: peers: expected a list of peers/],
  ])('refuses %s, saying where and why', (_what, text, message) => {
    let error: unknown;
    try {
      parsePeersFile(text, 'peers.yaml');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });
});

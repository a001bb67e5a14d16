// The generated grpc-js service definitions use Hubble's exact method paths and stream
// shapes, and work end to end over a real unix socket.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Server, ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObserverService } from '../../src/api/observer/observer.js';
import {
  ChangeNotification,
  ChangeNotificationType,
  PeerClient,
  PeerService,
  type PeerServer,
} from '../../src/api/peer/peer.js';
import { RecorderService } from '../../src/api/recorder/recorder.js';
import { RecordingsService } from '../../src/api/hubblets/recordings/v1/recordings.js';

type Shape = { path: string; requestStream: boolean; responseStream: boolean };

function shapes(service: ServiceDefinition): Shape[] {
  return Object.values(service).map(({ path, requestStream, responseStream }) => ({
    path,
    requestStream,
    responseStream,
  }));
}

describe('grpc-js service definitions', () => {
  const cases: Array<{ name: string; service: ServiceDefinition; expected: Shape[] }> = [
    {
      name: 'observer.Observer',
      service: ObserverService,
      expected: [
        { path: '/observer.Observer/GetFlows', requestStream: false, responseStream: true },
        { path: '/observer.Observer/GetAgentEvents', requestStream: false, responseStream: true },
        { path: '/observer.Observer/GetDebugEvents', requestStream: false, responseStream: true },
        { path: '/observer.Observer/GetNodes', requestStream: false, responseStream: false },
        { path: '/observer.Observer/GetNamespaces', requestStream: false, responseStream: false },
        { path: '/observer.Observer/ServerStatus', requestStream: false, responseStream: false },
      ],
    },
    {
      name: 'peer.Peer',
      service: PeerService,
      expected: [{ path: '/peer.Peer/Notify', requestStream: false, responseStream: true }],
    },
    {
      name: 'recorder.Recorder',
      service: RecorderService,
      expected: [{ path: '/recorder.Recorder/Record', requestStream: true, responseStream: true }],
    },
    {
      // Ours, in our own package: never inside upstream's.
      name: 'hubblets.recordings.v1.Recordings',
      service: RecordingsService,
      expected: [
        { path: '/hubblets.recordings.v1.Recordings/List', requestStream: false, responseStream: false },
        { path: '/hubblets.recordings.v1.Recordings/Download', requestStream: false, responseStream: true },
        { path: '/hubblets.recordings.v1.Recordings/Delete', requestStream: false, responseStream: false },
      ],
    },
  ];

  for (const { name, service, expected } of cases) {
    it(`${name} has upstream's method paths and stream shapes`, () => {
      expect(shapes(service)).toEqual(expected);
    });
  }
});

describe('peer.Peer over a unix socket', () => {
  let dir: string;
  let server: Server;
  let address: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hubble-ts-api-'));
    address = `unix://${join(dir, 'peer.sock')}`;
    server = new Server();
    const impl: PeerServer = {
      notify(call) {
        call.write(
          ChangeNotification.fromPartial({
            name: 'cluster-a/node-1',
            address: '10.0.0.1:4244',
            type: ChangeNotificationType.PEER_ADDED,
            tls: { serverName: 'node-1.cluster-a.hubble-grpc.cilium.io' },
          }),
        );
        call.end();
      },
    };
    server.addService(PeerService, impl);
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(address, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('streams a ChangeNotification that arrives intact', async () => {
    const client = new PeerClient(address, credentials.createInsecure());
    try {
      const received: ChangeNotification[] = [];
      await new Promise<void>((resolve, reject) => {
        const stream = client.notify({});
        stream.on('data', (n: ChangeNotification) => received.push(n));
        stream.on('error', reject);
        stream.on('end', () => resolve());
      });
      expect(received).toEqual([
        {
          name: 'cluster-a/node-1',
          address: '10.0.0.1:4244',
          type: ChangeNotificationType.PEER_ADDED,
          tls: { serverName: 'node-1.cluster-a.hubble-grpc.cilium.io' },
        },
      ]);
    } finally {
      client.close();
    }
  });
});

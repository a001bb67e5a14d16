// What generic gRPC tooling sees on our sockets: grpc.health.v1 answers per service, and server reflection lists and
// describes Hubble's services (what grpcurl and Hubble UI's tooling rely on).
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MonitorAgent } from '../../src/monitor/agent.js';
import { Observer } from '../../src/observer/observer.js';
import { Parser } from '../../src/observer/parser/index.js';
import { createObserverService, NODE_OBSERVER_SERVICE } from '../../src/observer/service.js';
import { createApiServer, shutdownApiServer, type ApiServer } from '../../src/server/grpcServer.js';
import { bindUnixSocket } from '../../src/server/listeners.js';

const reflectionProto = createRequire(import.meta.url).resolve(
  '@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto',
);

describe('health and reflection on the API server', () => {
  let api: ApiServer;
  let target: string;

  beforeAll(async () => {
    const parser = new Parser({ nodeName: 'n', clusterName: 'default', emitter: { name: 'hubble-ts', version: 't' } });
    const observer = new Observer({ parser, ringCapacity: 7, clusterName: 'default' });
    new MonitorAgent().register(observer);
    const socket = join(mkdtempSync(join(tmpdir(), 'hubble-ts-grpc-')), 'hubble.sock');
    api = createApiServer([
      {
        name: 'observer.Observer',
        definition: NODE_OBSERVER_SERVICE,
        implementation: createObserverService(observer, {
          nodeName: 'n',
          version: 't',
          address: socket,
          tlsEnabled: false,
        }),
      },
    ]);
    await bindUnixSocket(api.server, socket);
    target = `unix://${socket}`;
  });

  afterAll(() => shutdownApiServer(api, 100));

  it('answers health checks: SERVING for the server and observer.Observer, NOT_FOUND for unknown services', async () => {
    const Health = grpc.makeGenericClientConstructor(healthService, 'Health');
    const client = new Health(target, grpc.credentials.createInsecure()) as unknown as {
      check(
        req: { service: string },
        cb: (err: grpc.ServiceError | null, res?: { status: string | number }) => void,
      ): void;
      close(): void;
    };
    const check = (service: string) =>
      new Promise<{ status: string | number }>((resolve, reject) =>
        client.check({ service }, (err, res) => (err ? reject(err) : resolve(res!))),
      );
    expect((await check('')).status).toBe('SERVING');
    expect((await check('observer.Observer')).status).toBe('SERVING');
    await expect(check('no.Such')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    client.close();
  });

  it('lists observer.Observer through server reflection and resolves its file with the flow types', async () => {
    const definition = protoLoader.loadSync(reflectionProto, {
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
    };
    const client = new pkg.grpc.reflection.v1.ServerReflection(target, grpc.credentials.createInsecure());
    const ask = (request: Record<string, string>) =>
      new Promise<Record<string, any>>((resolve, reject) => {
        const call = (
          client as unknown as { ServerReflectionInfo(): grpc.ClientDuplexStream<unknown, Record<string, any>> }
        ).ServerReflectionInfo();
        call.on('data', (res) => {
          resolve(res);
          call.end();
        });
        call.on('error', reject);
        call.write(request);
      });
    const listed = await ask({ list_services: '' });
    const names = (listed['list_services_response'].service as { name: string }[]).map((s) => s.name);
    expect(names).toContain('observer.Observer');
    const file = await ask({ file_containing_symbol: 'observer.Observer' });
    const protos = file['file_descriptor_response'].file_descriptor_proto as Buffer[];
    expect(protos.length).toBeGreaterThan(0);
    expect(Buffer.concat(protos).toString('latin1')).toContain('GetFlowsRequest');
    client.close();
  });
});

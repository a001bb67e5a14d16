// Where the Recorder and the recordings store are served: always on the unix socket; on TCP only with
// --enable-recorder-api-on-tcp, and then only to clients with a certificate (mTLS) unless TLS is explicitly off.
// Health checks and reflection name the new services where they are served.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordingsClient, type ListResponse } from '../../src/api/hubblets/recordings/v1/recordings.js';
import { ObserverClient } from '../../src/api/observer/observer.js';
import { RecorderClient } from '../../src/api/recorder/recorder.js';
import { resolveSettings } from '../../src/server/config.js';
import { SERVE_SETTINGS, toServeOptions } from '../../src/server/serveOptions.js';
import { makeTestCa, type TestCa } from '../harness/certs.js';
import { anyFilter, RecordStream, startTestNode, type TestNode } from '../recorder/harness.js';

const RECORDER = 'recorder.Recorder';
const RECORDINGS = 'hubblets.recordings.v1.Recordings';

function list(client: RecordingsClient): Promise<ListResponse> {
  return new Promise((resolve, reject) =>
    client.list({}, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

function serverStatus(client: ObserverClient): Promise<unknown> {
  return new Promise((resolve, reject) =>
    client.serverStatus({}, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

function healthOf(target: string, creds: grpc.ChannelCredentials, service: string): Promise<string> {
  const Health = grpc.makeGenericClientConstructor(healthService, 'Health');
  const client = new Health(target, creds) as unknown as {
    check(req: { service: string }, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
    close(): void;
  };
  return new Promise<string>((resolve) =>
    client.check({ service }, (err, res) => resolve(err ? grpc.status[err.code]! : res!.status)),
  ).finally(() => client.close());
}

async function reflectedServices(target: string): Promise<string[]> {
  const proto = createRequire(import.meta.url).resolve(
    '@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto',
  );
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(proto, { keepCase: true, oneofs: true })) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
  };
  const client = new pkg.grpc.reflection.v1.ServerReflection(target, grpc.credentials.createInsecure());
  const call = (
    client as unknown as { ServerReflectionInfo(): grpc.ClientDuplexStream<unknown, Record<string, any>> }
  ).ServerReflectionInfo();
  const res = await new Promise<Record<string, any>>((resolve, reject) => {
    call.on('data', resolve);
    call.on('error', reject);
    call.write({ list_services: '' });
  });
  call.end();
  client.close();
  return (res['list_services_response'].service as { name: string }[]).map((s) => s.name);
}

describe('recorder API exposure', () => {
  let ca: TestCa;
  let server: { cert: string; key: string };
  let clientCert: { cert: string; key: string };

  beforeAll(() => {
    ca = makeTestCa();
    server = ca.issue('server', ['localhost', '127.0.0.1'], 'server');
    clientCert = ca.issue('client', ['recorder-client'], 'client');
  });

  describe('by default', () => {
    let t: TestNode;
    beforeAll(async () => {
      t = await startTestNode({ 'listen-address': '127.0.0.1:0', 'disable-server-tls': true });
    });
    afterAll(async () => {
      await t?.close();
    });

    it('serves the Recorder and the store on the unix socket, with health and reflection naming them', async () => {
      const unix = `unix://${t.socket}`;
      expect(await healthOf(unix, grpc.credentials.createInsecure(), RECORDER)).toBe('SERVING');
      expect(await healthOf(unix, grpc.credentials.createInsecure(), RECORDINGS)).toBe('SERVING');
      expect(await reflectedServices(unix)).toEqual(
        expect.arrayContaining(['observer.Observer', RECORDER, RECORDINGS]),
      );
      expect(await list(t.recordings)).toEqual({ recordings: [] });
    });

    it('does not serve them on TCP: UNIMPLEMENTED there, while the Observer answers', async () => {
      const tcp = `127.0.0.1:${t.node.tcpPort}`;
      const creds = grpc.credentials.createInsecure();
      const observer = new ObserverClient(tcp, creds);
      await serverStatus(observer);
      observer.close();
      const recordings = new RecordingsClient(tcp, creds);
      await expect(list(recordings)).rejects.toMatchObject({ code: grpc.status.UNIMPLEMENTED });
      recordings.close();
      const recorder = new RecorderClient(tcp, creds);
      const stream = new RecordStream(recorder).start({ include: [anyFilter] });
      expect((await stream.ended)?.code).toBe(grpc.status.UNIMPLEMENTED);
      recorder.close();
      expect(await healthOf(tcp, creds, RECORDER)).toBe('NOT_FOUND');
      expect(await reflectedServices(tcp)).not.toContain(RECORDER);
      expect(t.node.recorder.activeRecordings).toBe(0);
    });
  });

  describe('with --enable-recorder-api-on-tcp and mTLS', () => {
    let t: TestNode;
    beforeAll(async () => {
      t = await startTestNode({
        'listen-address': '127.0.0.1:0',
        'tls-cert-file': server.cert,
        'tls-key-file': server.key,
        'tls-client-ca-files': [ca.cert],
        'enable-recorder-api-on-tcp': true,
      });
    });
    afterAll(async () => {
      await t?.close();
    });

    it('records for a client that presents a certificate from the trusted CA', async () => {
      const creds = grpc.credentials.createSsl(
        readFileSync(ca.cert),
        readFileSync(clientCert.key),
        readFileSync(clientCert.cert),
      );
      const recorder = new RecorderClient(`localhost:${t.node.tcpPort}`, creds);
      const stream = new RecordStream(recorder).start({ include: [anyFilter], filesink: { filePrefix: 'overtcp' } });
      await stream.running();
      stream.stop();
      expect((await stream.stopped()).stopped!.filesink!.filePath).toMatch(/overtcp_/);
      recorder.close();
      const recordings = new RecordingsClient(`localhost:${t.node.tcpPort}`, creds);
      expect((await list(recordings)).recordings.map((r) => r.name)).toEqual([expect.stringMatching(/^overtcp_/)]);
      recordings.close();
    });

    it('refuses a client without a certificate', async () => {
      const recordings = new RecordingsClient(
        `localhost:${t.node.tcpPort}`,
        grpc.credentials.createSsl(readFileSync(ca.cert)),
      );
      await expect(list(recordings)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
      recordings.close();
    });
  });

  describe('with --enable-recorder-api-on-tcp and TLS explicitly off', () => {
    it('serves them in plaintext, as asked', async () => {
      const t = await startTestNode({
        'listen-address': '127.0.0.1:0',
        'disable-server-tls': true,
        'enable-recorder-api-on-tcp': true,
      });
      try {
        const recordings = new RecordingsClient(`127.0.0.1:${t.node.tcpPort}`, grpc.credentials.createInsecure());
        expect(await list(recordings)).toEqual({ recordings: [] });
        recordings.close();
      } finally {
        await t.close();
      }
    });
  });

  it('refuses to start with --enable-recorder-api-on-tcp but no TCP listener, in one line saying why', () => {
    expect(() => toServeOptions(resolveSettings(SERVE_SETTINGS, { 'enable-recorder-api-on-tcp': true }))).toThrow(
      /--enable-recorder-api-on-tcp needs --listen-address/,
    );
  });

  it('refuses to start with --enable-recorder-api-on-tcp over TLS without client certificates, in one line saying why', () => {
    const settings = {
      'enable-recorder-api-on-tcp': true,
      'listen-address': ':4244',
      'tls-cert-file': server.cert,
      'tls-key-file': server.key,
    };
    expect(() => toServeOptions(resolveSettings(SERVE_SETTINGS, settings))).toThrow(
      /--enable-recorder-api-on-tcp requires mutual TLS: give --tls-client-ca-files \(or --disable-server-tls/,
    );
  });
});

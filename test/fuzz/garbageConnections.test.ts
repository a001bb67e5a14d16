// Garbage on the gRPC listeners of `hubble-ts serve` (TCP and the unix socket): random bytes, a TLS hello on the
// plaintext port, HTTP/1.1, the HTTP/2 preface followed by random frames, half a preface left hanging, and a slowloris
// of hundreds of connections trickling the preface a byte at a time. The server stays up and keeps answering real
// clients while it happens, and its memory comes back within bounds.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetFlowsRequest } from '../../src/api/observer/observer.js';
import { scrapeMetrics, startServe, sumOf, type ServedProcess } from '../soak/processes.js';
import { CaseCounter, fuzzRuns } from './fuzzRuns.js';
import { healthCheck, serverStream } from './wire.js';

const counter = new CaseCounter();
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** An HTTP/2 frame: 24-bit length, type, flags, 31-bit stream id, payload. */
function frame(type: number, flags: number, stream: number, payload: Uint8Array): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

type Endpoint = { kind: 'tcp'; port: number } | { kind: 'unix'; path: string };

function open(to: Endpoint): Socket {
  const s = to.kind === 'tcp' ? connect(to.port, '127.0.0.1') : connect(to.path);
  s.on('error', () => undefined);
  return s;
}

/** Sends `bytes`, waits up to `holdMs` for the server to close, then closes; resolves with whether the server did. */
function sendAndClose(to: Endpoint, bytes: Uint8Array, holdMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = open(to);
    let serverClosed = false;
    s.on('close', () => {
      serverClosed = true;
      resolve(true);
    });
    s.on('data', () => undefined);
    s.once('connect', () => s.write(bytes));
    setTimeout(() => {
      if (!serverClosed) {
        s.destroy();
        resolve(false);
      }
    }, holdMs);
  });
}

const garbage = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 4096 }).map((b) => ({ what: 'random bytes', bytes: b })),
  fc
    .integer({ min: 1, max: PREFACE.length - 1 })
    .map((n) => ({ what: 'half a preface', bytes: new Uint8Array(PREFACE.subarray(0, n)) })),
  fc.constant({
    what: 'HTTP/1.1',
    bytes: new Uint8Array(Buffer.from('GET /observer.Observer/GetFlows HTTP/1.1\r\nHost: x\r\n\r\n')),
  }),
  fc.constant({
    what: 'a TLS hello',
    bytes: Uint8Array.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, ...new Uint8Array(160)]),
  }),
  fc
    .array(
      fc.record({
        type: fc.integer({ min: 0, max: 12 }),
        flags: fc.integer({ min: 0, max: 255 }),
        stream: fc.oneof(fc.constantFrom(0, 1, 3), fc.nat()),
        payload: fc.uint8Array({ maxLength: 300 }),
      }),
      { minLength: 1, maxLength: 6 },
    )
    .map((frames) => ({
      what: 'a preface and random frames',
      bytes: new Uint8Array(
        Buffer.concat([
          PREFACE,
          frame(4, 0, 0, new Uint8Array(0)),
          ...frames.map((f) => frame(f.type, f.flags, f.stream, f.payload)),
        ]),
      ),
    })),
  fc.uint8Array({ minLength: 1, maxLength: 200 }).map((hpack) => ({
    what: 'a preface and headers of random HPACK',
    bytes: new Uint8Array(Buffer.concat([PREFACE, frame(4, 0, 0, new Uint8Array(0)), frame(1, 0x04, 1, hpack)])),
  })),
);

describe('garbage on the gRPC listeners', () => {
  let dir: string;
  let serve: ServedProcess;
  let tcp: Endpoint;
  let unix: Endpoint;
  let client: grpc.Client;
  let rssBefore = 0;
  const closedByServer: Record<string, number> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hubble-ts-fuzz-garbage-'));
    serve = await startServe({
      name: 'garbage',
      dir,
      sources: [`pcap:${join(import.meta.dirname, '..', 'fixtures', 'source', 'loopback.pcap')}`],
      tcp: true,
    });
    tcp = { kind: 'tcp', port: serve.tcpPort! };
    unix = { kind: 'unix', path: serve.socket };
    client = new grpc.Client(`127.0.0.1:${serve.tcpPort}`, grpc.credentials.createInsecure());
    rssBefore = sumOf(await scrapeMetrics(serve.metricsPort), 'process_resident_memory_bytes');
  });

  afterAll(async () => {
    client?.close();
    counter.report(
      'garbage connections',
      Object.entries(closedByServer)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', '),
    );
    counter.report('slowloris connections');
    await serve?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  /** Real clients are answered: health on both listeners, and a GetFlows over TCP. */
  async function expectServing(): Promise<void> {
    expect(serve.child.exitCode, serve.stderr()).toBeNull();
    expect(await healthCheck(`127.0.0.1:${serve.tcpPort}`)).toBe('SERVING');
    expect(await healthCheck(`unix://${serve.socket}`)).toBe('SERVING');
    const flows = await serverStream(
      client,
      '/observer.Observer/GetFlows',
      GetFlowsRequest.encode(GetFlowsRequest.fromPartial({ number: '3' })).finish(),
      5000,
    );
    expect(grpc.status[flows.code]).toBe('OK');
    expect(flows.messages).toBe(3);
  }

  it('random bytes, TLS, HTTP/1.1, bad frames and half prefaces leave it serving', async () => {
    await fc.assert(
      fc.asyncProperty(garbage, fc.boolean(), async ({ what, bytes }, overTcp) => {
        counter.add('garbage connections');
        const closed = await sendAndClose(overTcp ? tcp : unix, bytes, 100);
        const key = `${what} ${closed ? 'closed by the server' : 'left open'}`;
        closedByServer[key] = (closedByServer[key] ?? 0) + 1;
      }),
      { numRuns: fuzzRuns(120) },
    );
    await expectServing();
  }, 180_000);

  it('a slowloris of hundreds of connections trickling the preface leaves it serving, and memory bounded', async () => {
    const n = Math.min(1000, fuzzRuns(300));
    const sockets = Array.from({ length: n }, (_, i) => open(i % 2 === 0 ? tcp : unix));
    counter.add('slowloris connections', n);
    let sent = 0;
    const trickle = setInterval(() => {
      if (sent >= PREFACE.length - 1) return; // never the last byte: the preface is never complete
      for (const s of sockets) if (!s.destroyed) s.write(PREFACE.subarray(sent, sent + 1));
      sent++;
    }, 100);
    try {
      await new Promise((r) => setTimeout(r, 1000));
      // While they hang on: real clients are still answered.
      await expectServing();
      const during = sumOf(await scrapeMetrics(serve.metricsPort), 'process_resident_memory_bytes');
      expect(during - rssBefore, `RSS ${rssBefore} -> ${during} with ${n} idle connections`).toBeLessThan(
        128 * 1024 * 1024,
      );
      console.log(
        `fuzz: ${n} slowloris connections: server RSS ${(rssBefore / 1048576).toFixed(0)} -> ${(during / 1048576).toFixed(0)} MiB`,
      );
    } finally {
      clearInterval(trickle);
      for (const s of sockets) s.destroy();
    }
    await new Promise((r) => setTimeout(r, 500));
    await expectServing();
  }, 120_000);
});

// SIGTERM when something outside the process will not move: a pcap source on a FIFO whose writer stays open and
// quiet (its read never returns), and GetFlows followers that stopped reading their sockets (what the server queued
// for them never leaves). `serve` and `relay` still exit 0 within 5 s, and followers that read are told UNAVAILABLE.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlowCounter, observerClient, waitUntil } from '../soak/flowCounter.js';
import { startRelay, startServe, type ServedProcess } from '../soak/processes.js';
import { spawnCli, type CliProcess } from '../harness/cli.js';
import { UdpTarget } from './load.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** An HTTP/2 frame: 24-bit length, type, flags, 31-bit stream id, payload. */
function frame(type: number, flags: number, stream: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** Request headers as HPACK literals without indexing (no Huffman): all a server needs to decode them. */
function hpack(headers: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of headers) {
    parts.push(Buffer.from([0x00, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value));
  }
  return Buffer.concat(parts);
}

/**
 * A GetFlows follower over raw HTTP/2 that opens every flow-control window as wide as it goes, so the server sends
 * all it has, and stops reading its socket once the first flows arrive: the kernel's buffers fill and what the server
 * queued for it stays queued. Resolves once it has stopped reading.
 */
async function stalledFollower(to: { port: number } | { path: string }): Promise<Socket> {
  const socket = 'port' in to ? connect(to.port, '127.0.0.1') : connect(to.path);
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  const maxWindow = 0x7fffffff;
  const settings = Buffer.alloc(6);
  settings.writeUInt16BE(0x4, 0); // SETTINGS_INITIAL_WINDOW_SIZE
  settings.writeUInt32BE(maxWindow, 2);
  const increment = Buffer.alloc(4);
  increment.writeUInt32BE(maxWindow - 65535, 0);
  const headers = hpack([
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', '/observer.Observer/GetFlows'],
    [':authority', 'localhost'],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
  ]);
  // One gRPC message: GetFlowsRequest { follow: true } (field 3).
  const request = Buffer.from([0, 0, 0, 0, 2, 0x18, 0x01]);
  socket.write(
    Buffer.concat([
      PREFACE,
      frame(0x4, 0, 0, settings),
      frame(0x8, 0, 0, increment),
      frame(0x1, 0x4, 1, headers), // HEADERS, END_HEADERS
      frame(0x0, 0x1, 1, request), // DATA, END_STREAM
    ]),
  );
  let received = 0;
  await new Promise<void>((resolve) => {
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      // Past the server's SETTINGS and response headers: flows are coming. Acknowledge the settings, stop reading.
      if (received < 4096) return;
      socket.off('data', onData);
      socket.write(frame(0x4, 0x1, 0));
      socket.pause();
      resolve();
    };
    socket.on('data', onData);
  });
  return socket;
}

/** Sends SIGTERM and resolves with the exit code and how long the process took to exit. */
async function terminate(p: CliProcess): Promise<{ code: number | null; ms: number }> {
  const t0 = Date.now();
  p.child.kill('SIGTERM');
  const code = await p.exited;
  return { code, ms: Date.now() - t0 };
}

describe('SIGTERM with a quiet pipe or followers that stopped reading', () => {
  let dir: string;
  let target: UdpTarget;
  const sockets: Socket[] = [];
  const processes: CliProcess[] = [];
  const writers: ChildProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hubble-ts-fault-stuck-'));
    target = await UdpTarget.open();
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    for (const w of writers) w.kill('SIGKILL');
    await Promise.all(processes.map((p) => p.stop('SIGKILL')));
    target?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serve on a FIFO says it waits for a writer, and with the writer open and quiet exits 0 within 5 s', async () => {
    const fifo = join(dir, 'capture.fifo');
    execFileSync('mkfifo', [fifo]);
    const serve = spawnCli([
      'serve',
      '--node-name',
      'quietpipe',
      '--socket-path',
      join(dir, 'quietpipe.sock'),
      '--recordings-dir',
      join(dir, 'quietpipe-recordings'),
      '--source',
      `pcap:${fifo}`,
    ]);
    processes.push(serve);
    // No writer yet: the FIFO's open waits, and the log says so.
    await serve.waitFor((out) => out.includes('waiting for the source to open'), 10_000, 'the waiting notice');
    // A writer that opens the FIFO and writes nothing, not even the file header (tcpdump -w - without -U on a quiet
    // link), staying open: serve serves meanwhile.
    writers.push(spawn('sh', ['-c', 'exec > "$0"; exec sleep 600', fifo], { stdio: 'ignore' }));
    await serve.waitFor((out) => out.includes('serving Hubble API'), 30_000, 'serve to serve');
    const { code, ms } = await terminate(serve);
    console.log(`fault: SIGTERM with a quiet FIFO source: exited ${code} after ${ms} ms`);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5000);
    // The read waiting on the pipe was ended, not left behind.
    expect(serve.stdout()).toMatch(/"aborted":true,"msg":"source ended"|"msg":"source ended".*"aborted":true/);
  });

  it('relay and serve with followers that stopped reading exit 0 within 5 s', async () => {
    const serve: ServedProcess = await startServe({
      name: 'stalled',
      dir,
      sources: [`live:lo:udp dst port ${target.port}`],
      tcp: true,
    });
    processes.push(serve);
    const relay = await startRelay(`127.0.0.1:${serve.tcpPort}`);
    processes.push(relay);
    const flood = { stopped: false };
    const sending = target.send(1_000_000, 3000, 300, flood);
    // Beside them, a follower of each that reads: told the server is going away, not that it cancelled.
    const clients = [observerClient(`127.0.0.1:${relay.port}`, 'relay'), observerClient(`unix://${serve.socket}`)];
    const [relayFollower, nodeFollower] = clients.map((c) => new FlowCounter(c, { follow: true }));
    try {
      await waitUntil(() => relayFollower!.flows > 0 && nodeFollower!.flows > 0, 'the followers to get flows', 20_000);
      // Two on the node (its unix socket and TCP), two on the relay.
      sockets.push(
        ...(await Promise.all([
          stalledFollower({ path: serve.socket }),
          stalledFollower({ port: serve.tcpPort! }),
          stalledFollower({ port: relay.port }),
          stalledFollower({ port: relay.port }),
        ])),
      );
      // Long enough for what the followers do not read to fill the kernel's buffers.
      await new Promise((r) => setTimeout(r, 2000));
      const relayExit = await terminate(relay);
      const serveExit = await terminate(serve);
      console.log(
        `fault: SIGTERM with followers that stopped reading: relay exited ${relayExit.code} after ${relayExit.ms} ms, ` +
          `serve ${serveExit.code} after ${serveExit.ms} ms`,
      );
      expect(relayExit.code).toBe(0);
      expect(relayExit.ms).toBeLessThan(5000);
      expect(serveExit.code).toBe(0);
      expect(serveExit.ms).toBeLessThan(5000);
      const [relayEnd, nodeEnd] = await Promise.all([relayFollower!.ended, nodeFollower!.ended]);
      expect([relayEnd.code, relayEnd.details]).toEqual([grpc.status.UNAVAILABLE, 'the relay is shutting down']);
      expect([nodeEnd.code, nodeEnd.details]).toEqual([grpc.status.UNAVAILABLE, 'the server is shutting down']);
    } finally {
      for (const c of clients) c.close();
      flood.stopped = true;
      await sending;
    }
  });
});

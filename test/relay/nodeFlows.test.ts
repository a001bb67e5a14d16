// GetFlows as the relay speaks it to a node over HTTP/2 itself: against a real grpc-js server (as every hubble-ts node
// is), every response arrives whole and in order whatever its size, views into what arrived stay valid, the node's
// status and message come through, and cancelling, deadlines, pausing, a node going away, one that is not there and
// TLS each end or hold the call as grpc-js would.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { GetFlowsRequest } from '../../src/api/observer/observer.js';
import { NodeFlowsChannel, type NodeFlowsCall } from '../../src/relay/nodeFlows.js';
import { makeTestCa } from '../harness/certs.js';
import { spawnCli } from '../harness/cli.js';
import { vethNamespace } from '../harness/netns.js';
import { freePort, tempDir } from './harness.js';

type Handler = (call: grpc.ServerWritableStream<GetFlowsRequest, Buffer>) => void;

const getFlows = {
  path: '/observer.Observer/GetFlows',
  requestStream: false,
  responseStream: true,
  requestSerialize: (r: GetFlowsRequest) => Buffer.from(GetFlowsRequest.encode(r).finish()),
  requestDeserialize: (b: Buffer) => GetFlowsRequest.decode(b),
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};

const servers: grpc.Server[] = [];
const channels: NodeFlowsChannel[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.forceShutdown();
  for (const c of channels.splice(0)) c.close();
});

/** A node whose GetFlows does what `handler` does, on a unix socket (or TCP with TLS); returns its target. */
async function node(handler: Handler, tls?: { creds: grpc.ServerCredentials }): Promise<string> {
  const server = new grpc.Server();
  server.addService({ getFlows } as grpc.ServiceDefinition, { getFlows: handler });
  servers.push(server);
  if (tls !== undefined) {
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', tls.creds, (e, p) => (e ? reject(e) : resolve(p))),
    );
    return `127.0.0.1:${port}`;
  }
  const target = `unix://${join(tempDir('nodeflows'), 'node.sock')}`;
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
  );
  return target;
}

function channel(target: string, tls?: ConstructorParameters<typeof NodeFlowsChannel>[1]): NodeFlowsChannel {
  const c = new NodeFlowsChannel(target, tls, 5_000);
  channels.push(c);
  return c;
}

interface Received {
  /** The views as handed over, kept (not copied) until the end. */
  views: Array<[Buffer, number, number]>;
  ended: Promise<grpc.ServiceError | undefined>;
  call: NodeFlowsCall;
  ends: number;
}

function open(
  c: NodeFlowsChannel,
  opts: { metadata?: grpc.Metadata; deadline?: grpc.Deadline; onResponse?: (n: number) => void } = {},
): Received {
  const views: Received['views'] = [];
  let resolveEnd!: (err: grpc.ServiceError | undefined) => void;
  const received = {
    views,
    ended: new Promise<grpc.ServiceError | undefined>((r) => (resolveEnd = r)),
    ends: 0,
  } as Received;
  received.call = c.open(
    GetFlowsRequest.fromPartial({ number: '10' }),
    opts.metadata ?? new grpc.Metadata(),
    opts.deadline ?? Infinity,
    {
      response: (bytes, start, end) => {
        views.push([bytes, start, end]);
        opts.onResponse?.(views.length);
      },
      chunkEnd: () => undefined,
      end: (err) => {
        received.ends++;
        resolveEnd(err);
      },
    },
  );
  return received;
}

const bodies = (r: Received) => r.views.map(([b, s, e]) => Buffer.from(b.subarray(s, e)));

async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('GetFlows over HTTP/2 to a node', () => {
  it('hands over every response whole and in order, whatever its size, as views that stay valid', async () => {
    // Empty, tiny, typical, and larger than a DATA frame (16 KiB), a window of grpc-js's (64 KiB) and a chunk.
    const sizes = [
      0,
      1,
      4,
      5,
      269,
      16_379,
      16_384,
      70_000,
      3,
      300_000,
      ...Array.from({ length: 2000 }, (_, i) => i % 700),
    ];
    const sent = sizes.map((n) => randomBytes(n));
    const target = await node((call) => {
      for (const b of sent) call.write(b);
      call.end();
    });
    const r = open(channel(target));
    expect(await r.ended).toBeUndefined();
    expect(r.ends).toBe(1);
    // Compared only now, after every later chunk arrived: nothing handed over was written over.
    const got = bodies(r);
    expect(got.length).toBe(sent.length);
    got.forEach((b, i) => expect(b.equals(sent[i]!), `response ${i} (${sizes[i]} bytes)`).toBe(true));
  });

  it.each([
    { when: 'before any response (a trailers-only answer)', before: 0 },
    { when: 'after some responses', before: 3 },
  ])("ends with the node's status and message $when", async ({ before }) => {
    const target = await node((call) => {
      for (let i = 0; i < before; i++) call.write(Buffer.from([i]));
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'invalid flow filter: 50% "odd", ünïcode' });
    });
    const r = open(channel(target));
    const err = await r.ended;
    expect(err).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'invalid flow filter: 50% "odd", ünïcode',
    });
    expect(bodies(r)).toHaveLength(before);
  });

  it('passes the metadata on, and the deadline as grpc-timeout', async () => {
    let seen: { auth: unknown; deadline: grpc.Deadline } | undefined;
    const target = await node((call) => {
      seen = { auth: call.metadata.get('authorization')[0], deadline: call.getDeadline() };
      call.end();
    });
    const metadata = new grpc.Metadata();
    metadata.set('authorization', 'Bearer t0ken');
    const r = open(channel(target), { metadata, deadline: Date.now() + 60_000 });
    expect(await r.ended).toBeUndefined();
    expect(seen?.auth).toBe('Bearer t0ken');
    expect(Number(seen?.deadline) - Date.now()).toBeGreaterThan(50_000);
  });

  it('ends DEADLINE_EXCEEDED when the deadline passes, and the node sees the call end', async () => {
    let cancelled = false;
    const target = await node((call) => call.on('cancelled', () => (cancelled = true)));
    const r = open(channel(target), { deadline: Date.now() + 200 });
    expect(await r.ended).toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
    await until(() => cancelled, 2_000, 'the node to see the call cancelled');
  });

  it('cancel() ends the call CANCELLED, once and on a later tick, and the node sees it cancelled', async () => {
    let cancelled = false;
    const target = await node((call) => {
      call.write(Buffer.from('first'));
      call.on('cancelled', () => (cancelled = true));
    });
    const r = open(channel(target));
    await until(() => r.views.length === 1, 2_000, 'the first response');
    r.call.cancel();
    expect(r.ends).toBe(0);
    expect(await r.ended).toMatchObject({ code: grpc.status.CANCELLED });
    r.call.cancel();
    await until(() => cancelled, 2_000, 'the node to see the cancellation');
    expect(r.ends).toBe(1);
  });

  it('fails INTERNAL when a response cannot be read, and cancels the node stream', async () => {
    let cancelled = false;
    const target = await node((call) => {
      call.write(Buffer.from('fine'));
      call.write(Buffer.from('broken'));
      call.write(Buffer.from('never read'));
      call.on('cancelled', () => (cancelled = true));
    });
    const views: string[] = [];
    let ended: grpc.ServiceError | undefined;
    channel(target).open(GetFlowsRequest.fromPartial({}), new grpc.Metadata(), Infinity, {
      response: (bytes, start, end) => {
        const text = bytes.toString('utf8', start, end);
        if (text === 'broken') throw new Error('length-delimited field runs past the end of its message');
        views.push(text);
      },
      chunkEnd: () => undefined,
      end: (err) => (ended = err),
    });
    await until(() => ended !== undefined, 2_000, 'the call to fail');
    expect(ended).toMatchObject({
      code: grpc.status.INTERNAL,
      details: 'Response message parsing error: length-delimited field runs past the end of its message',
    });
    expect(views).toEqual(['fine']);
    await until(() => cancelled, 2_000, 'the node to see the cancellation');
  });

  it('holds the node back while paused (it waits to write), and lets it finish once resumed', async () => {
    const total = 20_000;
    let written = 0;
    const target = await node(async (call) => {
      for (let i = 0; i < total; i++) {
        written++;
        if (!call.write(randomBytes(200))) await new Promise((r) => call.once('drain', r));
      }
      call.end();
    });
    let r: Received | undefined = undefined;
    r = open(channel(target), { onResponse: (n) => n === 100 && r!.call.pause() });
    await until(() => r.views.length >= 100, 5_000, 'the first hundred responses');
    // Once the windows are full the node waits: what it wrote while paused stops growing, far short of all 4 MB.
    let before = -1;
    while (written !== before) {
      before = written;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(written * 200).toBeLessThan(2.5 * 1024 * 1024);
    expect(r.views.length).toBeLessThan(200);
    r.call.resume();
    expect(await r.ended).toBeUndefined();
    expect(r.views).toHaveLength(total);
  });

  it('ends UNAVAILABLE when the node goes away mid-stream, and when it is not there at all', async () => {
    const target = await node((call) => call.write(Buffer.from('one')));
    const r = open(channel(target));
    await until(() => r.views.length === 1, 2_000, 'the first response');
    servers[0]!.forceShutdown();
    expect(await r.ended).toMatchObject({ code: grpc.status.UNAVAILABLE });

    const nobody = `127.0.0.1:${await freePort()}`;
    const refused = await open(channel(nobody)).ended;
    expect(refused).toMatchObject({ code: grpc.status.UNAVAILABLE });
    expect(refused?.details).toMatch(/ECONNREFUSED/);
  });

  it('ends UNAVAILABLE when a followed node hangs (its process stopped): pings go unanswered', async () => {
    const dir = tempDir('nodeflows-hung');
    const serve = spawnCli([
      'serve',
      '--source',
      `pcap:${join(import.meta.dirname, '..', 'fixtures', 'source', 'loopback.pcap')}`,
      '--socket-path',
      join(dir, 'node.sock'),
      '--recordings-dir',
      join(dir, 'recordings'),
      '--l7',
      'none',
    ]);
    try {
      await serve.waitFor((out) => out.includes('source ended'), 20_000, 'the replay');
      const c = new NodeFlowsChannel(`unix://${join(dir, 'node.sock')}`, undefined, 5_000, {
        intervalMs: 200,
        timeoutMs: 500,
      });
      channels.push(c);
      let responses = 0;
      const ended = new Promise<grpc.ServiceError | undefined>((resolve) =>
        c.open(GetFlowsRequest.fromPartial({ number: '5', follow: true }), new grpc.Metadata(), Infinity, {
          response: () => responses++,
          chunkEnd: () => undefined,
          end: resolve,
        }),
      );
      await until(() => responses === 5, 5_000, 'the last five flows');
      // Quiet but alive: pings are answered and the follow goes on.
      await new Promise((r) => setTimeout(r, 1_000));
      serve.child.kill('SIGSTOP');
      const err = await ended;
      expect(err).toMatchObject({ code: grpc.status.UNAVAILABLE });
      expect(err?.details).toBe('no answer to an HTTP/2 ping within 0.5s (the node hangs)');
    } finally {
      serve.child.kill('SIGCONT');
      await serve.stop();
    }
  });

  it('shares one connection between calls, dials again once it is gone, and refuses calls once closed', async () => {
    const peers = new Set<string>();
    const target = await node((call) => {
      peers.add(call.getPeer());
      call.end();
    });
    const c = channel(target);
    expect(await open(c).ended).toBeUndefined();
    expect(await open(c).ended).toBeUndefined();
    c.close();
    expect(await open(c).ended).toMatchObject({ code: grpc.status.UNAVAILABLE });
  });

  describe('with TLS', () => {
    const ca = makeTestCa('nodeFlows test CA');
    const other = makeTestCa('another CA');
    const serverCert = ca.issue('alpha', ['alpha.default.hubble-grpc.cilium.io'], 'server');
    const client = ca.issue('relay', ['relay.example'], 'client');
    const file = (path: string) => readFileSync(path);
    const mtls = grpc.ServerCredentials.createSsl(
      file(ca.cert),
      [{ cert_chain: file(serverCert.cert), private_key: file(serverCert.key) }],
      true,
    );
    const serving: Handler = (call) => {
      call.write(Buffer.from('over tls'));
      call.end();
    };

    it.each([
      { what: 'the expected name, our CA and a client certificate', ok: true, name: 'alpha', ca: ca.cert, cert: true },
      { what: 'a name the certificate lacks', ok: false, name: 'beta', ca: ca.cert, cert: true },
      { what: 'a CA the node is not from', ok: false, name: 'alpha', ca: other.cert, cert: true },
      { what: 'no client certificate', ok: false, name: 'alpha', ca: ca.cert, cert: false },
    ])('verifies the node and presents the client certificate: $what', async ({ ok, name, ca: caFile, cert }) => {
      const target = await node(serving, { creds: mtls });
      const r = open(
        channel(target, {
          ca: file(caFile),
          cert: cert ? file(client.cert) : undefined,
          key: cert ? file(client.key) : undefined,
          serverName: `${name}.default.hubble-grpc.cilium.io`,
        }),
      );
      const err = await r.ended;
      if (ok) {
        expect(err).toBeUndefined();
        expect(bodies(r).map(String)).toEqual(['over tls']);
      } else {
        expect(err).toMatchObject({ code: grpc.status.UNAVAILABLE });
      }
    });
  });
});

describe('a node whose link is down while it is dialled', () => {
  it('gives up at the dial timeout, and the connect still under way never completes on the abandoned session', async () => {
    // A node in a namespace behind a veth whose far end is down while it is dialled, and back up after the 0.4 s dial
    // timeout: the kernel's retried SYN then gets through. The connect completed on the destroyed session, whose
    // connect handler threw (ERR_HTTP2_INVALID_SESSION), taking the relay down.
    const ns = await vethNamespace('slowdial');
    const run = (cmd: string, args: string[]) =>
      new Promise<void>((resolve, reject) => execFile(cmd, args, (err) => (err ? reject(err) : resolve())));
    const script =
      "let n = 0; require('net').createServer((s) => { console.log('connection ' + ++n); s.destroy(); })" +
      `.listen(4244, '${ns.peerAddress}', () => console.log('listening'));`;
    const server = spawn('ip', ['netns', 'exec', ns.namespace, process.execPath, '-e', script]);
    let out = '';
    server.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      await until(() => out.includes('listening'), 10_000, 'the node in the namespace to listen');
      await run('ip', ['-n', ns.namespace, 'link', 'set', ns.peerIface, 'down']);
      const c = new NodeFlowsChannel(`${ns.peerAddress}:4244`, undefined, 400);
      channels.push(c);
      const ended = await open(c).ended;
      expect(ended).toMatchObject({ code: grpc.status.UNAVAILABLE, details: 'no connection within 0.4s' });
      await run('ip', ['-n', ns.namespace, 'link', 'set', ns.peerIface, 'up']);
      // Past the SYN's retries (1 s, then 3 s): the node saw no connection, and nothing was thrown here.
      await new Promise((r) => setTimeout(r, 4500));
      expect(uncaught).toEqual([]);
      expect(out).not.toContain('connection');
    } finally {
      process.off('uncaughtException', onUncaught);
      server.kill();
      await ns.close();
    }
  });
});

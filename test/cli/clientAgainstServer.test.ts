// The client commands against a real grpc-js server on a temp unix socket (a small fake Observer:
// the real server is not ready): the request that arrives, streaming, follow, Ctrl-C, error
// statuses, status, list nodes, TLS; a few runs spawn the CLI as a real process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { Command } from 'commander';
import { AgentEventType, DebugEventType, FlowFilter, Verdict } from '../../src/api/flow/flow.js';
import {
  GetAgentEventsRequest,
  GetAgentEventsResponse,
  GetDebugEventsResponse,
  GetFlowsRequest,
  ObserverService,
  type GetFlowsResponse,
  type ObserverServer,
  type ServerStatusResponse,
} from '../../src/api/observer/observer.js';
import { NodeState } from '../../src/api/relay/relay.js';
import { getFlowsResponseToJson } from '../../src/protojson/protojson.js';
import { observeCommand, type CliIo } from '../../src/cli/observe.js';
import { statusCommand } from '../../src/cli/status.js';
import { listCommand } from '../../src/cli/list.js';
import { makeTestCa } from '../harness/certs.js';
import { DNS_REPLY, HTTP_REQUEST, SYN_TO_NETWORK } from './printerFixtures.js';

const CLI_ENTRY = process.env['HUBBLE_TS_CLI_ENTRY'] ?? 'src/cli/main.ts';

const at = (iso: string) => ({ seconds: Date.parse(iso) / 1000, nanos: 0 });
const AGENT_EVENTS = [
  GetAgentEventsResponse.fromPartial({
    agentEvent: { type: AgentEventType.AGENT_STARTED, agentStart: { time: at('2024-11-24T09:00:00Z') } },
    nodeName: 'node-a',
    time: at('2024-11-24T09:00:00Z'),
  }),
  GetAgentEventsResponse.fromPartial({
    agentEvent: {
      type: AgentEventType.SERVICE_UPSERTED,
      serviceUpsert: {
        id: 7,
        frontendAddress: { ip: '10.96.0.10', port: 53 },
        backendAddresses: [
          { ip: '10.0.1.10', port: 53 },
          { ip: 'fd00::10', port: 53 },
        ],
        type: 'ClusterIP',
        namespace: 'kube-system',
        name: 'kube-dns',
      },
    },
    nodeName: 'node-a',
    time: at('2024-11-24T09:00:01Z'),
  }),
];
const DEBUG_EVENTS = [
  GetDebugEventsResponse.fromPartial({
    debugEvent: {
      type: DebugEventType.DBG_CT_VERDICT,
      source: { ID: 1234, namespace: 'default', podName: 'client' },
      hash: 0x1a2b,
      cpu: 3,
      message: 'CT verdict: New, revnat=0',
    },
    nodeName: 'node-a',
    time: at('2024-11-24T09:00:02Z'),
  }),
];

class FakeObserver {
  requests: GetFlowsRequest[] = [];
  agentRequests: GetAgentEventsRequest[] = [];
  cancelled = 0;
  failWith?: { code: grpc.status; details: string };
  backlog: GetFlowsResponse[] = [SYN_TO_NETWORK, DNS_REPLY];
  healthy: 'SERVING' | 'NOT_SERVING' = 'SERVING';
  status: ServerStatusResponse = {
    numFlows: 2047,
    maxFlows: 4095,
    seenFlows: 120_000,
    uptimeNs: 600e9,
    numConnectedNodes: 2,
    numUnavailableNodes: 1,
    unavailableNodes: ['node-c'],
    version: 'hubble-ts-test',
    flowsRate: 0,
  };

  readonly implementation: ObserverServer = {
    getFlows: (call) => {
      this.requests.push(call.request);
      if (this.failWith !== undefined) {
        call.emit('error', { code: this.failWith.code, details: this.failWith.details });
        return;
      }
      for (const r of this.backlog) call.write(r);
      if (!call.request.follow) {
        call.end();
        return;
      }
      call.on('cancelled', () => this.cancelled++);
      // A follower keeps receiving: one more flow arrives after the backlog.
      setTimeout(() => call.cancelled || call.write(HTTP_REQUEST), 10);
    },
    getAgentEvents: (call) => {
      this.agentRequests.push(call.request);
      for (const r of AGENT_EVENTS) call.write(r);
      call.end();
    },
    getDebugEvents: (call) => {
      for (const r of DEBUG_EVENTS) call.write(r);
      call.end();
    },
    getNodes: (_call, cb) =>
      cb(null, {
        nodes: [
          {
            name: 'node-b',
            version: 'v1',
            address: '10.0.0.2:4244',
            state: NodeState.NODE_UNAVAILABLE,
            tls: undefined,
            uptimeNs: 0,
            numFlows: 0,
            maxFlows: 0,
            seenFlows: 0,
          },
          {
            name: 'node-a',
            version: 'v1',
            address: '10.0.0.1:4244',
            state: NodeState.NODE_CONNECTED,
            tls: { enabled: true, serverName: 'a.hubble' },
            uptimeNs: 3723e9,
            numFlows: 1000,
            maxFlows: 4095,
            seenFlows: 7446,
          },
        ],
      }),
    getNamespaces: (_call, cb) =>
      cb(null, {
        namespaces: [
          { cluster: 'prod', namespace: 'default' },
          { cluster: '', namespace: 'kube-system' },
        ],
      }),
    serverStatus: (_call, cb) => cb(null, this.status),
  };
}

async function startServer(
  fake: FakeObserver,
  target: string,
  creds = grpc.ServerCredentials.createInsecure(),
): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(ObserverService, fake.implementation);
  // As Hubble's server registers it: only under "hubble.server.Observer", the name `hubble status` asks about.
  const health = new HealthImplementation({ '': 'SERVING', 'hubble.server.Observer': fake.healthy });
  health.addToServer(server);
  (fake as { health?: HealthImplementation }).health = health;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(target, creds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port };
}

function collectingIo(signal?: AbortSignal): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    signal,
    out: () => out,
    err: () => err,
  };
}

async function run(cmd: Command, args: string[]): Promise<void> {
  cmd.exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  await cmd.parseAsync(args, { from: 'user' });
}

interface Spawned {
  code: number | null;
  stdout: string;
  stderr: string;
}

function spawnCli(
  args: string[],
  opts: { viaNpx: boolean; onStdout?: (text: string, child: ReturnType<typeof spawn>) => void },
): Promise<Spawned> {
  const child = opts.viaNpx
    ? spawn('npx', ['tsx', CLI_ENTRY, ...args], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], {
        cwd: process.cwd(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    opts.onStdout?.(stdout, child);
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr: stderr.replace(/^npm warn.*\n/gm, '') })),
  );
}

let dir: string;
let socket: string;
let fake: FakeObserver;
let server: grpc.Server;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hubble-ts-cli-'));
  socket = join(dir, 'hubble.sock');
  fake = new FakeObserver();
  ({ server } = await startServer(fake, `unix://${socket}`));
});

afterAll(() => {
  server?.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

describe('observe against a server', () => {
  it('sends the filters as hubble would and prints the stream in compact form', async () => {
    fake.requests = [];
    fake.failWith = undefined;
    const io = collectingIo();
    await run(observeCommand(io), [
      '--server',
      `unix://${socket}`,
      '--ip',
      '10.0.0.1',
      '--not',
      '--verdict',
      'DROPPED',
    ]);
    expect(fake.requests).toEqual([
      GetFlowsRequest.fromPartial({
        number: '20',
        whitelist: [
          FlowFilter.fromPartial({ sourceIp: ['10.0.0.1'] }),
          FlowFilter.fromPartial({ destinationIp: ['10.0.0.1'] }),
        ],
        blacklist: [FlowFilter.fromPartial({ verdict: [Verdict.DROPPED] })],
      }),
    ]);
    expect(io.out()).toBe(
      'Nov 24 10:00:00.123: 10.0.0.1:34567 (world) -> 10.0.0.2:80 (host) to-network FORWARDED (TCP Flags: SYN)\n' +
        'Nov 24 10:00:01.005: default/client:40000 (ID:1234) <- kube-system/coredns-abc:53 (ID:5678) to-endpoint FORWARDED (UDP)\n',
    );
  });

  it('follows until interrupted, then cancels the stream and returns normally', async () => {
    fake.requests = [];
    fake.cancelled = 0;
    const stop = new AbortController();
    const io = collectingIo(stop.signal);
    const done = run(observeCommand(io), ['--server', `unix:${socket}`, '-f', '-o', 'json']);
    await expect.poll(() => io.out().split('\n').length, { timeout: 5000 }).toBe(4);
    stop.abort();
    await done;
    expect(fake.requests[0]!.follow).toBe(true);
    expect(fake.requests[0]!.number).toBe('0');
    expect(
      io
        .out()
        .split('\n')
        .slice(0, 3)
        .map((l) => JSON.parse(l)),
    ).toEqual([SYN_TO_NETWORK, DNS_REPLY, HTTP_REQUEST].map((r) => getFlowsResponseToJson(r)));
    await expect.poll(() => fake.cancelled, { timeout: 2000 }).toBe(1);
  });

  it.each([
    [grpc.status.INVALID_ARGUMENT, 'bad filter', 'rejected the GetFlows request: bad filter'],
    [grpc.status.UNKNOWN, 'something broke in the server', 'something broke in the server'],
    [grpc.status.UNIMPLEMENTED, 'GetFlows is not supported', 'does not implement GetFlows: GetFlows is not supported'],
    [
      grpc.status.RESOURCE_EXHAUSTED,
      'too many readers',
      'GetFlows exceeded a server or message size limit: too many readers',
    ],
  ])('turns status %s from the server into one clear line', async (code, details, message) => {
    fake.failWith = { code, details };
    try {
      await expect(run(observeCommand(collectingIo()), ['--server', `unix://${socket}`])).rejects.toThrow(message);
    } finally {
      fake.failWith = undefined;
    }
  });

  it('says the connection was refused when nothing listens on the port', async () => {
    const probe = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) =>
      probe.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    probe.forceShutdown();
    await expect(run(observeCommand(collectingIo()), ['--server', `127.0.0.1:${port}`])).rejects.toThrow(
      `connection refused at 127.0.0.1:${port}`,
    );
  });

  it('says there is no socket when the unix socket does not exist', async () => {
    await expect(run(statusCommand(collectingIo()), ['--server', `unix://${dir}/missing.sock`])).rejects.toThrow(
      `no socket at unix://${dir}/missing.sock`,
    );
  });
});

describe('status and list against a server', () => {
  it('prints the health check and the server status as hubble status does', async () => {
    const io = collectingIo();
    await run(statusCommand(io), ['--server', `unix://${socket}`]);
    expect(io.out()).toBe(
      `Healthcheck (via unix://${socket}): Ok\n` +
        'Current/Max Flows: 2,047/4,095 (49.99%)\n' +
        'Flows/s: 200.00\n' +
        'Connected Nodes: 2/3\n' +
        'Unavailable Nodes: 1\n  - node-c\n',
    );
  });

  it('fails with "not healthy" when the Observer service is not serving', async () => {
    const sick = new FakeObserver();
    sick.healthy = 'NOT_SERVING';
    const sickSocket = join(dir, 'sick.sock');
    const { server: sickServer } = await startServer(sick, `unix://${sickSocket}`);
    try {
      const io = collectingIo();
      await expect(run(statusCommand(io), ['--server', `unix://${sickSocket}`])).rejects.toThrow('not healthy');
      expect(io.out()).toBe(`Healthcheck (via unix://${sickSocket}): Unavailable: NOT_SERVING\n`);
    } finally {
      sickServer.forceShutdown();
    }
  });

  it('lists nodes sorted by name in a table and as JSON', async () => {
    const table = collectingIo();
    await run(listCommand(table), ['nodes', '--server', `unix://${socket}`]);
    expect(table.out()).toBe(
      'NAME     STATUS        AGE      FLOWS/S   CURRENT/MAX-FLOWS\n' +
        'node-a   Connected     1h2m3s   2.00      1000/4095 ( 24.42%)\n' +
        'node-b   Unavailable   N/A      N/A       N/A\n',
    );
    const json = collectingIo();
    await run(listCommand(json), ['nodes', '-o', 'json', '--server', `unix://${socket}`]);
    // protojson through Go's MarshalIndent, written by hand: enums by name, uint64 counters as strings.
    expect(json.out()).toBe(
      '[\n' +
        '  {\n' +
        '    "name": "node-a",\n' +
        '    "version": "v1",\n' +
        '    "address": "10.0.0.1:4244",\n' +
        '    "state": "NODE_CONNECTED",\n' +
        '    "tls": {\n' +
        '      "enabled": true,\n' +
        '      "server_name": "a.hubble"\n' +
        '    },\n' +
        '    "uptime_ns": "3723000000000",\n' +
        '    "num_flows": "1000",\n' +
        '    "max_flows": "4095",\n' +
        '    "seen_flows": "7446"\n' +
        '  },\n' +
        '  {\n' +
        '    "name": "node-b",\n' +
        '    "version": "v1",\n' +
        '    "address": "10.0.0.2:4244",\n' +
        '    "state": "NODE_UNAVAILABLE"\n' +
        '  }\n' +
        ']\n',
    );
  });
});

describe('list namespaces', () => {
  it('prints a table, a wide table with clusters, and JSON as hubble does', async () => {
    const table = collectingIo();
    await run(listCommand(table), ['namespaces', '--server', `unix://${socket}`]);
    expect(table.out()).toBe('NAMESPACE\ndefault\nkube-system\n');
    const wide = collectingIo();
    await run(listCommand(wide), ['namespaces', '-o', 'wide', '--server', `unix://${socket}`]);
    // Go's tabwriter: an untabbed last line (no cluster) does not widen the column.
    expect(wide.out()).toBe('NAMESPACE   CLUSTER\ndefault     prod\nkube-system\n');
    const json = collectingIo();
    await run(listCommand(json), ['namespaces', '-o', 'json', '--server', `unix://${socket}`]);
    expect(json.out()).toBe(
      '[\n  {\n    "cluster": "prod",\n    "namespace": "default"\n  },\n  {\n    "namespace": "kube-system"\n  }\n]\n',
    );
  });
});

describe('TLS', () => {
  it('verifies the server with the given CA and names a failed handshake', async () => {
    const ca = makeTestCa();
    const leaf = ca.issue('server', ['observer.hubble-ts.test', '127.0.0.1'], 'server');
    const { readFileSync } = await import('node:fs');
    const creds = grpc.ServerCredentials.createSsl(
      null,
      [{ private_key: readFileSync(leaf.key), cert_chain: readFileSync(leaf.cert) }],
      false,
    );
    const tlsFake = new FakeObserver();
    const { server: tlsServer, port } = await startServer(tlsFake, '127.0.0.1:0', creds);
    try {
      const ok = collectingIo();
      await run(statusCommand(ok), [
        '--server',
        `127.0.0.1:${port}`,
        '--tls',
        '--tls-ca-cert-files',
        ca.cert,
        '--tls-server-name',
        'observer.hubble-ts.test',
      ]);
      expect(ok.out()).toContain('Healthcheck (via 127.0.0.1:');
      expect(ok.out()).toContain('): Ok\n');
      const otherCa = makeTestCa('some other CA');
      await expect(
        run(statusCommand(collectingIo()), [
          '--server',
          `tls://127.0.0.1:${port}`,
          '--tls-ca-cert-files',
          otherCa.cert,
          '--tls-server-name',
          'observer.hubble-ts.test',
        ]),
      ).rejects.toThrow(
        `TLS handshake with tls://127.0.0.1:${port} failed: unable to verify the first certificate (give the CA that signed its certificate with --tls-ca-cert-files)`,
      );
      // The name dialled is not in the certificate.
      await expect(
        run(statusCommand(collectingIo()), [
          '--server',
          `tls://127.0.0.1:${port}`,
          '--tls-ca-cert-files',
          ca.cert,
          '--tls-server-name',
          'elsewhere.hubble-ts.test',
        ]),
      ).rejects.toThrow(/\(connect by a name the certificate holds, or set --tls-server-name\)$/);
      // Plaintext to a TLS server.
      await expect(run(statusCommand(collectingIo()), ['--server', `127.0.0.1:${port}`])).rejects.toThrow(
        `127.0.0.1:${port} closed the connection`,
      );
      await expect(run(statusCommand(collectingIo()), ['--server', `127.0.0.1:${port}`])).rejects.toThrow(
        'does it expect TLS (--tls or a tls:// address)?',
      );
      const insecure = collectingIo();
      await run(statusCommand(insecure), ['--server', `tls://127.0.0.1:${port}`, '--tls-allow-insecure']);
      expect(insecure.out()).toContain('): Ok\n');
    } finally {
      tlsServer.forceShutdown();
    }
  });

  it('says what to give when a server requiring client certificates gets none, or one it does not trust', async () => {
    const ca = makeTestCa();
    const leaf = ca.issue('server', ['127.0.0.1'], 'server');
    const { readFileSync } = await import('node:fs');
    const creds = grpc.ServerCredentials.createSsl(
      readFileSync(ca.cert),
      [{ private_key: readFileSync(leaf.key), cert_chain: readFileSync(leaf.cert) }],
      true,
    );
    const { server, port } = await startServer(new FakeObserver(), '127.0.0.1:0', creds);
    const status = (extra: string[]) =>
      run(statusCommand(collectingIo()), [
        '--server',
        `tls://127.0.0.1:${port}`,
        '--tls-ca-cert-files',
        ca.cert,
        ...extra,
      ]);
    try {
      // As the OpenSSL alert only: "... tlsv13 alert certificate required ... SSL alert number 116".
      await expect(status([])).rejects.toThrow(
        `TLS handshake with tls://127.0.0.1:${port} failed: the server requires a client certificate (give --tls-client-cert-file and --tls-client-key-file)`,
      );
      const stranger = makeTestCa('a CA the server does not trust').issue('client', ['me'], 'client');
      await expect(
        status(['--tls-client-cert-file', stranger.cert, '--tls-client-key-file', stranger.key]),
      ).rejects.toThrow(
        // TLS 1.3: the server's alert comes after the client's handshake is done, and grpc-js reports only the close.
        `tls://127.0.0.1:${port} closed the connection during or right after the TLS handshake (Failed to connect); if it requires client certificates, give one signed by a CA it trusts (--tls-client-cert-file, --tls-client-key-file)`,
      );
      const client = ca.issue('client', ['me'], 'client');
      const ok = collectingIo();
      await run(statusCommand(ok), [
        '--server',
        `tls://127.0.0.1:${port}`,
        '--tls-ca-cert-files',
        ca.cert,
        '--tls-client-cert-file',
        client.cert,
        '--tls-client-key-file',
        client.key,
      ]);
      expect(ok.out()).toContain('): Ok\n');
    } finally {
      server.forceShutdown();
    }
  });
});

describe('observe agent-events and debug-events', () => {
  it('print as hubble prints them: compact, dict, table and json', async () => {
    const compact = collectingIo();
    await run(observeCommand(compact), ['agent-events', '--server', `unix://${socket}`]);
    expect(compact.out()).toBe(
      'Nov 24 09:00:00.000: AGENT_STARTED (start time: Nov 24 09:00:00.000)\n' +
        'Nov 24 09:00:01.000: SERVICE_UPSERTED (id: 7, frontend: 10.96.0.10:53, backends: [10.0.1.10:53,[fd00::10]:53], type: ClusterIP, namespace: kube-system, name: kube-dns)\n',
    );
    // Without a time range or --all, hubble asks for the last 20 agent events, following or not.
    expect(fake.agentRequests.at(-1)).toEqual(GetAgentEventsRequest.fromPartial({ number: '20' }));
    const dict = collectingIo();
    await run(observeCommand(dict), [
      'agent-events',
      '--server',
      `unix://${socket}`,
      '-o',
      'dict',
      '--print-node-name',
    ]);
    expect(dict.out()).toBe(
      '  TIMESTAMP: Nov 24 09:00:00.000\n       NODE: node-a\n       TYPE: AGENT_STARTED\n    DETAILS: start time: Nov 24 09:00:00.000\n' +
        '------------\n' +
        '  TIMESTAMP: Nov 24 09:00:01.000\n       NODE: node-a\n       TYPE: SERVICE_UPSERTED\n' +
        '    DETAILS: id: 7, frontend: 10.96.0.10:53, backends: [10.0.1.10:53,[fd00::10]:53], type: ClusterIP, namespace: kube-system, name: kube-dns\n',
    );
    const debug = collectingIo();
    await run(observeCommand(debug), ['debug-events', '--server', `unix://${socket}`]);
    expect(debug.out()).toBe(
      'Nov 24 09:00:02.000: default/client (ID: 1234) DBG_CT_VERDICT MARK: 0x1a2b CPU: 03 (CT verdict: New, revnat=0)\n',
    );
    const table = collectingIo();
    await run(observeCommand(table), ['debug-events', '--server', `unix://${socket}`, '-o', 'table']);
    expect(table.out()).toBe(
      // Go's tabwriter (minwidth 2, padding 3): FROM is 25 + 3 wide, the empty column after it 3.
      'TIMESTAMP             FROM                           TYPE             CPU/MARK    MESSAGE\n' +
        'Nov 24 09:00:02.000   default/client (ID: 1234)      DBG_CT_VERDICT   03 0x1a2b   CT verdict: New, revnat=0\n',
    );
    const json = collectingIo();
    await run(observeCommand(json), ['debug-events', '--server', `unix://${socket}`, '-o', 'json']);
    expect(json.out()).toBe(
      '{"debug_event":{"type":"DBG_CT_VERDICT","source":{"ID":1234,"namespace":"default","pod_name":"client"},' +
        '"hash":6699,"message":"CT verdict: New, revnat=0","cpu":3},"node_name":"node-a","time":"2024-11-24T09:00:02Z"}\n',
    );
  });
});

describe('a server that is not what --server says', () => {
  it('says when a TLS client meets a plaintext server', async () => {
    const { server: plain, port } = await startServer(new FakeObserver(), '127.0.0.1:0');
    try {
      await expect(run(statusCommand(collectingIo()), ['--server', `tls://127.0.0.1:${port}`])).rejects.toThrow(
        `failed getting status: TLS handshake with tls://127.0.0.1:${port} failed: the server does not speak TLS (drop --tls and the tls:// prefix)`,
      );
    } finally {
      plain.forceShutdown();
    }
  });

  it('says when the address answers HTTP but not gRPC', async () => {
    const { createServer } = await import('node:http2');
    const web = createServer((_req, res) => {
      res.statusCode = 404;
      res.end('not here');
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    const port = (web.address() as { port: number }).port;
    try {
      await expect(run(statusCommand(collectingIo()), ['--server', `127.0.0.1:${port}`])).rejects.toThrow(
        `failed getting status: 127.0.0.1:${port} is not a gRPC server (it answered with HTTP status code 404): check --server`,
      );
    } finally {
      web.close();
    }
  });

  it('says when the address answers HTTP/1.x (a metrics or web port), not gRPC', async () => {
    const { createServer } = await import('node:http');
    const web = createServer((_req, res) => res.end('# HELP ...\n'));
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    const port = (web.address() as { port: number }).port;
    try {
      await expect(run(statusCommand(collectingIo()), ['--server', `127.0.0.1:${port}`])).rejects.toThrow(
        `failed getting status: 127.0.0.1:${port} is not a gRPC server (it answered in HTTP/1.x, not HTTP/2: a metrics or web UI port?): check --server`,
      );
    } finally {
      web.close();
    }
  });
});

describe('the hubble-ts process', () => {
  it('prints json lines for the requested flows (npx tsx)', async () => {
    fake.requests = [];
    const r = await spawnCli(
      ['observe', '--server', `unix://${socket}`, '-o', 'json', '--last', '2', '--from-ip', '10.0.0.1'],
      { viaNpx: true },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      `${JSON.stringify(getFlowsResponseToJson(SYN_TO_NETWORK))}\n${JSON.stringify(getFlowsResponseToJson(DNS_REPLY))}\n`,
    );
    expect(fake.requests).toEqual([
      GetFlowsRequest.fromPartial({ number: '2', whitelist: [FlowFilter.fromPartial({ sourceIp: ['10.0.0.1'] })] }),
    ]);
  });

  it('stops following on SIGINT, exits 0 and the server sees the cancel', async () => {
    fake.cancelled = 0;
    let interrupted = false;
    const r = await spawnCli(['observe', '--server', `unix://${socket}`, '--follow'], {
      viaNpx: false,
      onStdout: (text, child) => {
        if (!interrupted && text.split('\n').length >= 4) {
          interrupted = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(interrupted).toBe(true);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toHaveLength(4);
    await expect.poll(() => fake.cancelled, { timeout: 2000 }).toBe(1);
  });

  it('exits non-zero with one line when the server is not there (npx tsx)', async () => {
    const r = await spawnCli(['status', '--server', `unix://${dir}/gone.sock`], { viaNpx: true });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `hubble-ts: failed getting status: no socket at unix://${dir}/gone.sock (is hubble-ts serve running, and is --server right?)\n`,
    );
  });
});

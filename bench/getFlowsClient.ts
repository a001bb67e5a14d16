// The benchmark's GetFlows client, run as its own process (as the hubble CLI would be): sends one request `rounds`
// times and prints one JSON line per round as it ends ({ server, responses, flows, bytes, seconds, cpuSeconds }, the
// last being this process's own CPU time). Responses are counted as raw bytes, not decoded, so the number measures
// the server.
//
//   getFlowsClient.ts SERVER[,SERVER...] NUMBER ROUNDS [first|last] [grpc-js|http2]
//
// SERVER is a unix socket path (/path/to/hubble.sock) or a gRPC target (127.0.0.1:4245, unix:///path); given several,
// each round asks each of them in turn (`server` is its index), so that servers compared in one run take turns.
// `first` (the default) asks for the first NUMBER flows, `last` for the last NUMBER, as hubble observe
// --first/--last/--all do. `grpc-js` (the default) receives through grpc-js with a raw deserializer, as a Node client
// would; `http2` reads the gRPC frames off HTTP/2 itself, for a client that costs the machine as little as possible
// (about a third of grpc-js's CPU per message).
import * as http2 from 'node:http2';
import { connect as netConnect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { GetFlowsRequest } from '../src/api/observer/observer.js';
import { requestGetFlows } from './http2GetFlows.js';
import { rawGetFlowsMethod } from './rawGetFlows.js';

const [servers, number, rounds, order = 'first', transport = 'grpc-js'] = process.argv.slice(2) as [
  string,
  string,
  string,
  string?,
  string?,
];
if (order !== 'first' && order !== 'last') throw new Error(`order "${order}" is neither first nor last`);
if (transport !== 'grpc-js' && transport !== 'http2')
  throw new Error(`transport "${transport}" is not grpc-js or http2`);
const targets = servers.split(',').map((s) => (s.startsWith('/') ? `unix://${s}` : s));
/** A response whose first field is `flow` (field 1, length-delimited): ts-proto writes fields in number order. */
const FLOW_TAG = 0x0a;
/** Both clients take up to 16 MiB ahead of what they have read: the server is never held back by the window. */
const WINDOW_BYTES = 16 * 1024 * 1024;

interface Counts {
  responses: number;
  flows: number;
  bytes: number;
}
type Client = { getFlows(request: GetFlowsRequest): Promise<Counts>; close(): void };

const RawObserver = grpc.makeGenericClientConstructor(
  {
    getFlows: rawGetFlowsMethod(),
  },
  'Observer',
);

function grpcJsClient(target: string): Client {
  const client = new RawObserver(target, grpc.credentials.createInsecure(), {
    'grpc-node.flow_control_window': WINDOW_BYTES,
  }) as unknown as grpc.Client & { getFlows(r: GetFlowsRequest): grpc.ClientReadableStream<Buffer> };
  return {
    getFlows: (request) =>
      new Promise((resolve, reject) => {
        const counts = { responses: 0, flows: 0, bytes: 0 };
        const stream = client.getFlows(request);
        stream.on('data', (b: Buffer) => {
          counts.responses++;
          if (b[0] === FLOW_TAG) counts.flows++;
          counts.bytes += b.length;
        });
        stream.on('end', () => resolve(counts));
        stream.on('error', reject);
      }),
    close: () => client.close(),
  };
}

function http2Client(target: string): Client {
  const unix = target.startsWith('unix:') ? target.replace(/^unix:(\/\/)?/, '') : undefined;
  const session = http2.connect(unix === undefined ? `http://${target}` : 'http://localhost', {
    settings: { initialWindowSize: WINDOW_BYTES },
    ...(unix === undefined ? {} : { createConnection: () => netConnect(unix) }),
  });
  session.once('connect', () => session.setLocalWindowSize(WINDOW_BYTES));
  return {
    getFlows: (request) =>
      new Promise((resolve, reject) => {
        const counts = { responses: 0, flows: 0, bytes: 0 };
        const stream = requestGetFlows(session, request, (bytes, start, end) => {
          counts.responses++;
          if (bytes[start] === FLOW_TAG) counts.flows++;
          counts.bytes += end - start;
        });
        let status: string | undefined;
        let message = '';
        const onStatus = (h: http2.IncomingHttpHeaders) => {
          if (h['grpc-status'] === undefined) return;
          status = String(h['grpc-status']);
          message = decodeURI(String(h['grpc-message'] ?? ''));
        };
        stream.on('response', onStatus);
        stream.on('trailers', onStatus);
        stream.on('error', reject);
        stream.on('close', () => {
          if (status === '0') resolve(counts);
          else reject(new Error(`GetFlows ended with status ${status ?? `none (RST ${stream.rstCode})`}: ${message}`));
        });
      }),
    close: () => session.close(),
  };
}

const clients = targets.map(transport === 'http2' ? http2Client : grpcJsClient);
const request = GetFlowsRequest.fromPartial({ first: order === 'first', number });
for (let round = 0; round < Number(rounds); round++) {
  for (const [server, client] of clients.entries()) {
    const start = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    const { responses, flows, bytes } = await client.getFlows(request);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const { user, system } = process.cpuUsage(cpu);
    const line = { server, responses, flows, bytes, seconds, cpuSeconds: (user + system) / 1e6 };
    process.stdout.write(JSON.stringify(line) + '\n');
  }
}
for (const client of clients) client.close();

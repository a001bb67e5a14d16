// GetFlows benchmark: a full ring (65535 flows) streamed over the unix socket to a client in another process
// (bench/getFlowsClient.ts, which counts the responses without decoding them), as `hubble observe --all` asks.
// The reference, taking turns with it in the same run: a bare grpc-js server streaming as many ready-made responses
// of the same mean size to the same client, i.e. what the transport and the client cost with no Observer behind
// them. Both are read once by a client that reads HTTP/2 itself (about a third of grpc-js's CPU per message, as
// lean as the Go hubble CLI: the server is what is measured) and once by a grpc-js client.
import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetFlowsRequest } from '../src/api/observer/observer.js';
import { MAX_RING_CAPACITY } from '../src/observer/ring.js';
import { enableBatchedWrites } from '../src/protowire/encodedStream.js';
import { shutdownApiServer } from '../src/server/grpcServer.js';
import { makeNode, serveNode } from './node.js';
import { rawGetFlowsMethod } from './rawGetFlows.js';

const run = promisify(execFile);
const rate = (n: number) => Math.round(n).toLocaleString('en');

export interface GetFlowsResults {
  /** Read by a grpc-js client (as hubble-ts observe reads). */
  getflows_flows_per_s: number;
  /** The reference: a bare grpc-js server writing ready-made responses of the same mean size to the same client. */
  getflows_reference_bare_grpc_flows_per_s: number;
  /** The same two read by a client that reads HTTP/2 itself, as lean as a Go client such as the hubble CLI. */
  getflows_http2_client_flows_per_s: number;
  getflows_http2_client_reference_bare_grpc_flows_per_s: number;
}

interface ClientRound {
  /** Which of the servers asked in turn answered this round. */
  server: number;
  flows: number;
  bytes: number;
  seconds: number;
}

/** Runs the client against `sockets` (taking turns) for `rounds` rounds of `number` flows; its rounds as printed. */
async function clientRounds(
  sockets: string,
  number: number,
  rounds: number,
  transport: 'http2' | 'grpc-js',
): Promise<ClientRound[]> {
  // execFile keeps this process's event loop free to serve while the client runs.
  const client = join(import.meta.dirname, 'getFlowsClient.ts');
  const args = ['--import', 'tsx', client, sockets, String(number), String(rounds), 'first', transport];
  const { stdout } = await run(process.execPath, args);
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as ClientRound);
}

/** Responses the reference queues before it waits for the client. */
const MAX_QUEUED_RESPONSES = 1024;

/**
 * A grpc-js server whose GetFlows writes `number` copies of `response` through grpc-js's own writes, handed to the
 * socket together while a write is in flight (the best grpc-js does alone; the Observer batches into HTTP/2 itself).
 */
async function bareServer(socket: string, response: Buffer): Promise<grpc.Server> {
  const server = new grpc.Server();
  const getFlows = async (call: grpc.ServerWritableStream<GetFlowsRequest, Buffer>) => {
    enableBatchedWrites(call);
    const number = Number(call.request.number);
    for (let i = 0; i < number; i++) {
      if (!call.write(response) && call.writableLength >= MAX_QUEUED_RESPONSES) {
        await new Promise((resolve) => call.once('drain', resolve));
      }
    }
    call.end();
  };
  server.addService(
    {
      getFlows: rawGetFlowsMethod(),
    },
    { getFlows },
  );
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
  );
  return server;
}

export async function benchGetFlows(
  capturePath: string,
  rounds: number,
  log: (line: string) => void,
): Promise<GetFlowsResults> {
  const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-bench-getflows-'));
  const { observer, replay } = makeNode(capturePath, MAX_RING_CAPACITY);
  await replay(MAX_RING_CAPACITY * 2);
  const ring = observer.ring;
  const number = ring.len;
  let bytes = 0;
  const reader = ring.readerFromOldest();
  for (let p = reader.next(); typeof p === 'number'; p = reader.next()) bytes += ring.responseAt(p).length;
  const response = Buffer.alloc(Math.round(bytes / number), 0);
  response[0] = 0x0a; // counted as a flow by the client
  const sockets = [join(dir, 'hubble.sock'), join(dir, 'bare.sock')];
  const api = await serveNode(observer, 'bench', sockets[0]!);
  const bare = await bareServer(sockets[1]!, response);
  const best = { http2: [0, 0], 'grpc-js': [0, 0] };
  try {
    for (const transport of ['grpc-js', 'http2'] as const) {
      for (const r of await clientRounds(sockets.join(','), number, rounds, transport)) {
        const flowsPerS = r.flows / r.seconds;
        const who = r.server === 0 ? 'GetFlows' : 'reference, bare grpc-js server';
        log(
          `${who}, ${transport} client: ${rate(r.flows)} flows (${(r.bytes / 2 ** 20).toFixed(1)} MiB) in ${r.seconds.toFixed(2)} s = ${rate(flowsPerS)} flows/s`,
        );
        best[transport][r.server] = Math.max(best[transport][r.server]!, flowsPerS);
      }
    }
  } finally {
    await shutdownApiServer(api, 100);
    bare.forceShutdown();
  }
  return {
    getflows_flows_per_s: Math.round(best['grpc-js'][0]!),
    getflows_reference_bare_grpc_flows_per_s: Math.round(best['grpc-js'][1]!),
    getflows_http2_client_flows_per_s: Math.round(best.http2[0]!),
    getflows_http2_client_reference_bare_grpc_flows_per_s: Math.round(best.http2[1]!),
  };
}

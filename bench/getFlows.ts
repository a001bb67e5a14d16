// GetFlows benchmark: a full ring (65535 flows) streamed over the unix socket to a client in another process
// (bench/getFlowsClient.ts, which counts the responses without decoding them), as `hubble observe --all` asks.
// The reference, in the same run: a bare grpc-js server streaming as many ready-made responses of the same mean size
// to the same client, i.e. what the transport and the client cost with no Observer behind them.
import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetFlowsRequest } from '../src/api/observer/observer.js';
import { MAX_RING_CAPACITY } from '../src/observer/ring.js';
import { enableBatchedWrites, MAX_QUEUED_RESPONSES, waitForDrain } from '../src/observer/service.js';
import { shutdownApiServer } from '../src/server/grpcServer.js';
import { makeNode, serveNode } from './node.js';

const run = promisify(execFile);
const rate = (n: number) => Math.round(n).toLocaleString('en');

export interface GetFlowsResults {
  getflows_flows_per_s: number;
  /** The reference: a bare grpc-js server writing ready-made responses of the same mean size to the same client. */
  getflows_reference_bare_grpc_flows_per_s: number;
}

interface ClientRound {
  flows: number;
  bytes: number;
  seconds: number;
}

/** Runs the client against `socket` for `rounds` rounds of `number` flows; its rounds as it printed them. */
async function clientRounds(socket: string, number: number, rounds: number): Promise<ClientRound[]> {
  // execFile keeps this process's event loop free to serve while the client runs.
  const client = join(import.meta.dirname, 'getFlowsClient.ts');
  const { stdout } = await run(process.execPath, ['--import', 'tsx', client, socket, String(number), String(rounds)]);
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as ClientRound);
}

/** A grpc-js server whose GetFlows writes `number` copies of `response`, batched as the Observer batches. */
async function bareServer(socket: string, response: Buffer): Promise<grpc.Server> {
  const server = new grpc.Server();
  const getFlows = async (call: grpc.ServerWritableStream<GetFlowsRequest, Buffer>) => {
    enableBatchedWrites(call);
    const never = new AbortController().signal;
    const number = Number(call.request.number);
    for (let i = 0; i < number; i++) {
      if (!call.write(response) && call.writableLength >= MAX_QUEUED_RESPONSES) await waitForDrain(call, never);
    }
    call.end();
  };
  server.addService(
    {
      getFlows: {
        path: '/observer.Observer/GetFlows',
        requestStream: false,
        responseStream: true,
        requestSerialize: (r: GetFlowsRequest) => Buffer.from(GetFlowsRequest.encode(r).finish()),
        requestDeserialize: (b: Buffer) => GetFlowsRequest.decode(b),
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
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
  const number = observer.ring.len;
  const api = await serveNode(observer, 'bench', join(dir, 'hubble.sock'));
  let best = 0;
  let meanSize = 0;
  try {
    for (const [i, r] of (await clientRounds(join(dir, 'hubble.sock'), number, rounds)).entries()) {
      log(
        `GetFlows round ${i + 1}: ${rate(r.flows)} flows (${(r.bytes / 2 ** 20).toFixed(1)} MiB) in ${r.seconds.toFixed(2)} s = ${rate(r.flows / r.seconds)} flows/s`,
      );
      best = Math.max(best, r.flows / r.seconds);
      meanSize = r.bytes / r.flows;
    }
  } finally {
    await shutdownApiServer(api, 100);
  }

  const response = Buffer.alloc(Math.round(meanSize), 0);
  response[0] = 0x0a; // counted as a flow by the client
  const bare = await bareServer(join(dir, 'bare.sock'), response);
  let reference = 0;
  try {
    for (const [i, r] of (await clientRounds(join(dir, 'bare.sock'), number, rounds)).entries()) {
      log(`reference, bare grpc-js server, round ${i + 1}: ${rate(r.flows / r.seconds)} responses/s`);
      reference = Math.max(reference, r.flows / r.seconds);
    }
  } finally {
    bare.forceShutdown();
  }
  return { getflows_flows_per_s: Math.round(best), getflows_reference_bare_grpc_flows_per_s: Math.round(reference) };
}

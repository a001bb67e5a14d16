// The benchmark's GetFlows client, run as its own process (as the hubble CLI would be): sends one request `rounds`
// times and prints one JSON line per round as it ends ({ responses, flows, bytes, seconds, cpuSeconds }, the last
// being this process's own CPU time). Responses are counted as raw bytes, not decoded, so the number measures the
// server.
//
//   getFlowsClient.ts SERVER NUMBER ROUNDS [first|last]
//
// SERVER is a unix socket path (/path/to/hubble.sock) or a gRPC target (127.0.0.1:4245, unix:///path). `first` (the
// default) asks for the first NUMBER flows, `last` for the last NUMBER, as hubble observe --first/--last/--all do.
import * as grpc from '@grpc/grpc-js';
import { GetFlowsRequest } from '../src/api/observer/observer.js';

const [server, number, rounds, order = 'first'] = process.argv.slice(2) as [string, string, string, string?];
if (order !== 'first' && order !== 'last') throw new Error(`order "${order}" is neither first nor last`);
const target = server.startsWith('/') ? `unix://${server}` : server;
/** A response whose first field is `flow` (field 1, length-delimited): ts-proto writes fields in number order. */
const FLOW_TAG = 0x0a;

const RawObserver = grpc.makeGenericClientConstructor(
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
  'Observer',
);
const client = new RawObserver(target, grpc.credentials.createInsecure(), {
  'grpc-node.flow_control_window': 16 * 1024 * 1024,
});

for (let round = 0; round < Number(rounds); round++) {
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const { responses, flows, bytes } = await new Promise<{ responses: number; flows: number; bytes: number }>(
    (resolve, reject) => {
      let responses = 0;
      let flows = 0;
      let bytes = 0;
      const stream = (
        client as unknown as { getFlows(r: GetFlowsRequest): grpc.ClientReadableStream<Buffer> }
      ).getFlows(GetFlowsRequest.fromPartial({ first: order === 'first', number }));
      stream.on('data', (b: Buffer) => {
        responses++;
        if (b[0] === FLOW_TAG) flows++;
        bytes += b.length;
      });
      stream.on('end', () => resolve({ responses, flows, bytes }));
      stream.on('error', reject);
    },
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const { user, system } = process.cpuUsage(cpu);
  process.stdout.write(JSON.stringify({ responses, flows, bytes, seconds, cpuSeconds: (user + system) / 1e6 }) + '\n');
}
client.close();

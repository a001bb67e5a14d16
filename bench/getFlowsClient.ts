// The benchmark's GetFlows client, run as its own process (as the hubble CLI would be): streams the whole ring
// `rounds` times and prints one JSON line per round. Responses are counted as raw bytes, not decoded, so the
// number measures the server.
import * as grpc from '@grpc/grpc-js';
import { GetFlowsRequest } from '../src/api/observer/observer.js';

const [socket, number, rounds] = process.argv.slice(2) as [string, string, string];

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
const client = new RawObserver(`unix://${socket}`, grpc.credentials.createInsecure(), {
  'grpc-node.flow_control_window': 16 * 1024 * 1024,
});

for (let round = 0; round < Number(rounds); round++) {
  const start = process.hrtime.bigint();
  const { flows, bytes } = await new Promise<{ flows: number; bytes: number }>((resolve, reject) => {
    let flows = 0;
    let bytes = 0;
    const stream = (client as unknown as { getFlows(r: GetFlowsRequest): grpc.ClientReadableStream<Buffer> }).getFlows(
      GetFlowsRequest.fromPartial({ first: true, number }),
    );
    stream.on('data', (b: Buffer) => {
      flows++;
      bytes += b.length;
    });
    stream.on('end', () => resolve({ flows, bytes }));
    stream.on('error', reject);
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  process.stdout.write(JSON.stringify({ flows, bytes, seconds }) + '\n');
}
client.close();

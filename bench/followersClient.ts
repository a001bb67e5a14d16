// The followers benchmark's clients, one process (as 50 `hubble observe --follow` would be 50): opens N GetFlows
// streams with --follow --last 1, prints "ready" once every stream has its first flow, then counts what each stream
// receives until stdin closes, and prints {"streams": N, "flows": F, "lost": L} (totals over the streams; lost is
// the sum of the lost-events messages' counts).
//
//   followersClient.ts SOCKET N
import * as grpc from '@grpc/grpc-js';
import { GetFlowsRequest, GetFlowsResponse } from '../src/api/observer/observer.js';
import { rawGetFlowsMethod } from './rawGetFlows.js';

const [socket, count] = process.argv.slice(2) as [string, string];
/** A response whose first field is `flow` (field 1, length-delimited): our server writes fields in number order. */
const FLOW_TAG = 0x0a;

const client = new (grpc.makeGenericClientConstructor(
  {
    getFlows: rawGetFlowsMethod(),
  },
  'Observer',
))(`unix://${socket}`, grpc.credentials.createInsecure()) as unknown as {
  getFlows(r: GetFlowsRequest): grpc.ClientReadableStream<Buffer>;
};

let flows = 0;
let lost = 0;
let live = 0;
const streams = Array.from({ length: Number(count) }, () => {
  const stream = client.getFlows(GetFlowsRequest.fromPartial({ follow: true, number: '1' }));
  let first = true;
  stream.on('data', (b: Buffer) => {
    if (b[0] === FLOW_TAG) {
      if (first) {
        first = false;
        if (++live === streams.length) process.stdout.write('ready\n');
        return;
      }
      flows++;
    } else {
      lost += GetFlowsResponse.decode(b).lostEvents?.numEventsLost ?? 0;
    }
  });
  stream.on('error', () => undefined);
  return stream;
});

process.stdin.resume();
process.stdin.on('end', () => {
  for (const stream of streams) stream.cancel();
  process.stdout.write(JSON.stringify({ streams: streams.length, flows, lost }) + '\n');
  process.exit(0);
});

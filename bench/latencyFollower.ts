// The latency benchmark's follower, its own process: GetFlows --follow with a port filter, and for each flow the
// time it arrived here minus the flow's time (when the server captured the packet), both read off the same clock.
// Prints {"samples": N, "p50_ms": .., "p99_ms": .., "max_ms": ..} after SECONDS, leaving out the first WARMUP seconds.
//
//   latencyFollower.ts SOCKET PORT SECONDS WARMUP
import * as grpc from '@grpc/grpc-js';
import { FlowFilter } from '../src/api/flow/flow.js';
import { GetFlowsRequest } from '../src/api/observer/observer.js';
import { scanFlowsResponse, type RawFlowsResponse } from '../src/relay/flowsWire.js';

const [socket, port, seconds, warmup] = process.argv.slice(2) as [string, string, string, string];

const client = new (grpc.makeGenericClientConstructor(
  {
    getFlows: {
      path: '/observer.Observer/GetFlows',
      requestStream: false,
      responseStream: true,
      requestSerialize: (r: GetFlowsRequest) => Buffer.from(GetFlowsRequest.encode(r).finish()),
      requestDeserialize: (b: Buffer) => GetFlowsRequest.decode(b),
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: scanFlowsResponse,
    },
  },
  'Observer',
))(`unix://${socket}`, grpc.credentials.createInsecure()) as unknown as {
  getFlows(r: GetFlowsRequest): grpc.ClientReadableStream<RawFlowsResponse>;
};

/** Nanoseconds since the epoch, sub-millisecond: the same clock the server stamps captured packets with. */
function nowNs(): number {
  return (performance.timeOrigin + performance.now()) * 1e6;
}

const latencies: number[] = [];
const start = Date.now();
const stream = client.getFlows(
  GetFlowsRequest.fromPartial({ follow: true, whitelist: [FlowFilter.fromPartial({ destinationPort: [port] })] }),
);
stream.on('data', (r: RawFlowsResponse) => {
  if (!r.isFlow) return;
  const arrived = nowNs();
  if (Date.now() - start < Number(warmup) * 1000) return;
  latencies.push((arrived - (r.seconds * 1e9 + r.nanos)) / 1e6);
});
stream.on('error', () => undefined);
await new Promise((r) => setTimeout(r, Number(seconds) * 1000));
stream.cancel();
latencies.sort((a, b) => a - b);
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
process.stdout.write(
  JSON.stringify({ samples: latencies.length, p50_ms: at(0.5), p99_ms: at(0.99), max_ms: latencies.at(-1) ?? NaN }) +
    '\n',
);
process.exit(0);

// The latency benchmark's follower, its own process: GetFlows --follow with a port filter, and for each flow the
// time it arrived here minus the flow's time (when the server captured the packet), both read off the same clock.
// Prints {"samples": N, "lost": L, "lost_by_capture": C, "p50_ms": .., "p99_ms": .., "max_ms": ..}: the flows of the
// SECONDS after the first WARMUP seconds of traffic (counted from the first flow received, so every process on the
// path has warmed up), and the events the server's lost-event messages counted in those seconds: L in all, C of them
// packets the kernel's capture ring dropped (the rest the server's ring overwrote before this reader got to them).
// `grpc-js` (the default) follows through grpc-js as a Node client would; `http2` reads the gRPC frames off HTTP/2
// itself, as lean as a Go client such as the hubble CLI (grpc-js's own costs on two cores are half of its p99).
//
//   latencyFollower.ts SOCKET PORT SECONDS WARMUP [grpc-js|http2]
import * as http2 from 'node:http2';
import { connect as netConnect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { FlowFilter, LostEventSource } from '../src/api/flow/flow.js';
import { GetFlowsRequest, GetFlowsResponse } from '../src/api/observer/observer.js';
import { scanFlowsResponse, type RawFlowsResponse } from '../src/relay/flowsWire.js';
import { requestGetFlows } from './http2GetFlows.js';
import { rawGetFlowsMethod } from './rawGetFlows.js';

const [socket, port, seconds, warmup, transport = 'grpc-js'] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string?,
];
if (transport !== 'grpc-js' && transport !== 'http2')
  throw new Error(`transport "${transport}" is not grpc-js or http2`);

const latencies: number[] = [];
let lost = 0;
let lostByCapture = 0;
/** When the first flow arrived (ms), and with it the warm-up began; undefined before. */
let firstFlowAt: number | undefined;
let measured!: () => void;
/** Resolves at the end of the measured seconds. */
const measuredEnd = new Promise<void>((resolve) => (measured = resolve));
const request = GetFlowsRequest.fromPartial({
  follow: true,
  whitelist: [FlowFilter.fromPartial({ destinationPort: [port] })],
});
/** Whether the warm-up is over: the measured seconds have begun. */
const measuring = () => firstFlowAt !== undefined && Date.now() - firstFlowAt >= Number(warmup) * 1000;
const onResponse = (r: RawFlowsResponse) => {
  if (!r.isFlow) {
    if (measuring()) {
      const event = GetFlowsResponse.decode(r.bytes.subarray(r.start, r.end)).lostEvents;
      lost += event?.numEventsLost ?? 0;
      if (event?.source === LostEventSource.PERF_EVENT_RING_BUFFER) lostByCapture += event.numEventsLost;
    }
    return;
  }
  const arrived = nowNs();
  if (firstFlowAt === undefined) {
    firstFlowAt = Date.now();
    setTimeout(measured, (Number(warmup) + Number(seconds)) * 1000);
  }
  if (!measuring()) return;
  latencies.push((arrived - (r.seconds * 1e9 + r.nanos)) / 1e6);
};
const cancel = transport === 'http2' ? followHttp2(onResponse) : followGrpcJs(onResponse);

/** Nanoseconds since the epoch, sub-millisecond: the same clock the server stamps captured packets with. */
function nowNs(): number {
  return (performance.timeOrigin + performance.now()) * 1e6;
}

function followGrpcJs(onResponse: (r: RawFlowsResponse) => void): () => void {
  const client = new (grpc.makeGenericClientConstructor(
    {
      getFlows: rawGetFlowsMethod(scanFlowsResponse),
    },
    'Observer',
  ))(`unix://${socket}`, grpc.credentials.createInsecure()) as unknown as {
    getFlows(r: GetFlowsRequest): grpc.ClientReadableStream<RawFlowsResponse>;
  };
  const stream = client.getFlows(request);
  stream.on('data', onResponse);
  stream.on('error', () => undefined);
  return () => stream.cancel();
}

function followHttp2(onResponse: (r: RawFlowsResponse) => void): () => void {
  const session = http2.connect('http://localhost', { createConnection: () => netConnect(socket) });
  session.on('error', () => undefined);
  const stream = requestGetFlows(session, request, (bytes, start, end) =>
    onResponse(scanFlowsResponse(bytes, start, end, false)),
  );
  stream.on('error', () => undefined);
  return () => session.destroy();
}

// No traffic at all ends the run too, with no samples.
const noTraffic = setTimeout(measured, (Number(warmup) + Number(seconds) + 30) * 1000);
await measuredEnd;
clearTimeout(noTraffic);
cancel();
latencies.sort((a, b) => a - b);
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
process.stdout.write(
  JSON.stringify({
    samples: latencies.length,
    lost,
    lost_by_capture: lostByCapture,
    p50_ms: at(0.5),
    p99_ms: at(0.99),
    max_ms: latencies.at(-1) ?? NaN,
  }) + '\n',
);
process.exit(0);

// GetFlows read off HTTP/2 directly, for the benchmarks' lean clients (bench/getFlowsClient.ts, bench/latencyFollower.ts):
// the request framed as gRPC by hand, each response message handed over where it lies in the received chunk, with no
// grpc-js in between (about a third of its CPU per message, as lean as a Go client such as the hubble CLI).
import type * as http2 from 'node:http2';
import { GetFlowsRequest } from '../src/api/observer/observer.js';

/**
 * Sends `request` as GetFlows on `session` and calls `onMessage(bytes, start, end)` for each response message; the
 * returned stream also reports the call's status (its 'response' and 'trailers' headers) and its end.
 */
export function requestGetFlows(
  session: http2.ClientHttp2Session,
  request: GetFlowsRequest,
  onMessage: (bytes: Buffer, start: number, end: number) => void,
): http2.ClientHttp2Stream {
  const stream = session.request({
    ':method': 'POST',
    ':path': '/observer.Observer/GetFlows',
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  const body = GetFlowsRequest.encode(request).finish();
  const framed = Buffer.alloc(5 + body.length);
  framed.writeUInt32BE(body.length, 1);
  framed.set(body, 5);
  stream.end(framed);
  let rest: Buffer | undefined;
  stream.on('data', (chunk: Buffer) => {
    const buf = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
    let pos = 0;
    while (buf.length - pos >= 5) {
      const len = buf.readUInt32BE(pos + 1);
      if (buf.length - pos - 5 < len) break;
      onMessage(buf, pos + 5, pos + 5 + len);
      pos += 5 + len;
    }
    rest = pos < buf.length ? buf.subarray(pos) : undefined;
  });
  return stream;
}

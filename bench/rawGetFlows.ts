// GetFlows as the benchmarks' grpc-js clients and servers see it: requests encoded as usual, responses left as the
// bytes on the wire (or handed to `readResponse`), so neither side spends time building message objects.
import type * as grpc from '@grpc/grpc-js';
import { GetFlowsRequest } from '../src/api/observer/observer.js';

/** observer.Observer/GetFlows with raw response bytes; `readResponse` turns them into what the client wants. */
export function rawGetFlowsMethod<R = Buffer>(
  readResponse: (bytes: Buffer) => R = (bytes) => bytes as unknown as R,
): grpc.MethodDefinition<GetFlowsRequest, R> {
  return {
    path: '/observer.Observer/GetFlows',
    requestStream: false,
    responseStream: true,
    requestSerialize: (r: GetFlowsRequest) => Buffer.from(GetFlowsRequest.encode(r).finish()),
    requestDeserialize: (b: Buffer) => GetFlowsRequest.decode(b),
    responseSerialize: (r: R) => r as unknown as Buffer,
    responseDeserialize: readResponse,
  };
}

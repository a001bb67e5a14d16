// The observer.Observer gRPC service: every read endpoint streams from the one ring, filtering per request.
import * as grpc from '@grpc/grpc-js';
import type { Flow, FlowFilter } from '../api/flow/flow.js';
import type { Timestamp } from '../api/google/protobuf/timestamp.js';
import {
  GetAgentEventsRequest,
  GetAgentEventsResponse,
  GetDebugEventsRequest,
  GetDebugEventsResponse,
  GetFlowsRequest,
  GetFlowsResponse,
  type ObserverServer,
} from '../api/observer/observer.js';
import { NodeState } from '../api/relay/relay.js';
import { FieldMaskError, FlowFieldMask } from './fieldMask.js';
import { compileFlowFilters, FilterError } from './filters/index.js';
import type { Observer } from './observer.js';
import type { DecodedEvent } from './parser/index.js';
import { isLostMarker, type Ring, type RingReader } from './ring.js';

export interface NodeIdentity {
  nodeName: string;
  version: string;
  /** The address clients reach this node's API on, as GetNodes reports it. */
  address: string;
  tlsEnabled: boolean;
}

/** The gRPC status error a handler ends its call with. */
export class ApiError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

/** Fields GetFlows, GetAgentEvents and GetDebugEvents have in common. */
export interface EventsRequest {
  /** uint64 as a decimal string: hubble's --all sends 2^64-1. */
  number: string;
  first: boolean;
  follow: boolean;
  since: Timestamp | undefined;
  until: Timestamp | undefined;
}

type Predicate = (event: DecodedEvent) => boolean;

/** Responses a stream may have queued before the handler waits for the client to catch up. */
export const MAX_QUEUED_RESPONSES = 512;

function toNanos(ts: Timestamp): bigint {
  return BigInt(ts.seconds) * 1_000_000_000n + BigInt(ts.nanos);
}

function checkTimestamp(ts: Timestamp | undefined, field: string): bigint | undefined {
  if (ts === undefined) return undefined;
  // Same bounds as protobuf's Timestamp: years 0001..9999, nanos within a second.
  if (ts.nanos < 0 || ts.nanos > 999_999_999 || ts.seconds < -62_135_596_800 || ts.seconds > 253_402_300_799) {
    throw new ApiError(grpc.status.INVALID_ARGUMENT, `${field}: invalid timestamp ${JSON.stringify(ts)}`);
  }
  return toNanos(ts);
}

/**
 * Positions a reader where the request starts, as Hubble does: `first` from the oldest event,
 * `follow` alone from now, otherwise walk back from the newest write until `number` matching
 * events (or the `since` boundary) are behind us.
 */
function startReader(
  ring: Ring<DecodedEvent>,
  req: EventsRequest,
  number: number,
  matches: Predicate,
  since: bigint | undefined,
): RingReader<DecodedEvent> {
  if (req.first && since === undefined) return ring.readerFromOldest();
  if (req.follow && number === 0 && since === undefined) return ring.readerFromNow();
  const reader = ring.readerFromNow();
  let counted = 0;
  for (;;) {
    const e = reader.previous();
    if (e === undefined) break;
    if (e.kind === 'lost' || !matches(e)) continue;
    if (since !== undefined) {
      if (toNanos(e.timestamp) < since) {
        reader.next(); // one step too far back
        break;
      }
    } else if (++counted === number) {
      break;
    }
  }
  return reader;
}

/** Checks what every events request must satisfy (ApiError otherwise): since/until in nanoseconds, number as a float. */
export function parseEventsRequest(req: EventsRequest): {
  since: bigint | undefined;
  until: bigint | undefined;
  number: number;
} {
  if (req.first && req.follow)
    throw new ApiError(grpc.status.INVALID_ARGUMENT, 'first cannot be specified with follow');
  const since = checkTimestamp(req.since, 'since');
  const until = checkTimestamp(req.until, 'until');
  if (!/^\d+$/.test(req.number))
    throw new ApiError(grpc.status.INVALID_ARGUMENT, `number: "${req.number}" is not an unsigned integer`);
  // Anything beyond 2^53 means "everything" in practice; a float keeps the comparisons right.
  return { since, until, number: Number(req.number) };
}

/**
 * Streams the events a request selects. `respond` turns a matching event into a response
 * (or undefined to skip it); lost-event markers are reported through `respondLost`.
 */
async function streamEvents<Res>(
  call: grpc.ServerWritableStream<unknown, Res>,
  ring: Ring<DecodedEvent>,
  req: EventsRequest,
  matches: Predicate,
  respond: (e: DecodedEvent) => Res | undefined,
  respondLost: ((numLost: number) => Res) | undefined,
): Promise<void> {
  const { since, until, number } = parseEventsRequest(req);
  enableBatchedWrites(call);
  const abort = new AbortController();
  const onCancel = () => abort.abort();
  call.once('cancelled', onCancel);
  call.once('close', onCancel);
  try {
    const reader = startReader(ring, req, number, matches, since);
    let sent = 0;
    while (!abort.signal.aborted) {
      if (!req.follow && number > 0 && sent >= number) break;
      let e = reader.next();
      if (e === undefined) {
        if (!req.follow) break;
        e = await reader.nextFollow(abort.signal).catch(() => undefined);
        if (e === undefined) break;
      }
      let response: Res | undefined;
      if (isLostMarker(e)) {
        if (respondLost === undefined) continue;
        response = respondLost(e.numLost);
      } else {
        if (e.kind !== 'lost') {
          if (until !== undefined && toNanos(e.timestamp) > until) break;
          if (since !== undefined && toNanos(e.timestamp) < since) continue;
          if (!matches(e)) continue;
        }
        response = respond(e);
        if (response === undefined) continue;
        if (e.kind !== 'lost') sent++;
      }
      // Past the stream's small high-water mark, keep queueing (bounded) so writes go out in large batches.
      if (!call.write(response) && call.writableLength >= MAX_QUEUED_RESPONSES) await waitForDrain(call, abort.signal);
    }
  } finally {
    call.off('cancelled', onCancel);
    call.off('close', onCancel);
  }
}

/**
 * grpc-js writes a server stream one message at a time, each waiting for the previous socket write to
 * complete, which caps a stream at a few tens of thousands of messages per second. Messages queued behind
 * a write in flight are handed over together instead: each is still framed and sent by grpc-js itself,
 * but they reach the socket in one write.
 */
export function enableBatchedWrites(call: grpc.ServerWritableStream<unknown, unknown>): void {
  const stream = call as unknown as {
    _write(chunk: unknown, encoding: BufferEncoding, done: (error?: Error | null) => void): void;
    _writev?: (chunks: { chunk: unknown; encoding: BufferEncoding }[], done: (error?: Error | null) => void) => void;
  };
  stream._writev = (chunks, done) => {
    let pending = chunks.length;
    let failed = false;
    for (const { chunk, encoding } of chunks) {
      stream._write(chunk, encoding, (error) => {
        if (failed) return;
        if (error) {
          failed = true;
          done(error);
        } else if (--pending === 0) done();
      });
    }
  };
}

export function waitForDrain(call: grpc.ServerWritableStream<unknown, unknown>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    call.on('drain', done);
    signal.addEventListener('abort', done);
  });
}

/** Runs a streaming handler and ends the call with the right status whatever happens. */
export function serveStream<Req, Res>(
  name: string,
  handler: (call: grpc.ServerWritableStream<Req, Res>) => Promise<void>,
): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    handler(call).then(
      () => call.end(),
      // grpc-js turns an 'error' event on a server stream into the call's status (destroy() would send none).
      (err: unknown) => call.emit('error', toServiceError(name, err)),
    );
  };
}

function toServiceError(method: string, err: unknown): grpc.ServiceError | Partial<grpc.StatusObject> {
  if (err instanceof ApiError) return { code: err.code, details: err.message };
  if (err instanceof FilterError || err instanceof FieldMaskError) {
    return { code: grpc.status.INVALID_ARGUMENT, details: err.message };
  }
  return { code: grpc.status.INTERNAL, details: `${method}: ${err instanceof Error ? err.message : String(err)}` };
}

/** Compiles a request's allow and deny lists; a bad filter is the client's error (INVALID_ARGUMENT). */
export function compileRequestFilters(allow: FlowFilter[], deny: FlowFilter[]): (flow: Flow) => boolean {
  try {
    return compileFlowFilters(allow, deny);
  } catch (err) {
    if (err instanceof FilterError)
      throw new ApiError(grpc.status.INVALID_ARGUMENT, `invalid flow filter: ${err.message}`);
    throw err;
  }
}

export function createObserverService(observer: Observer, node: NodeIdentity): ObserverServer {
  const ring = observer.ring;
  const lostResponse = (numLost: number): GetFlowsResponse =>
    GetFlowsResponse.fromPartial({
      lostEvents: { source: 3 /* HUBBLE_RING_BUFFER */, numEventsLost: numLost },
      nodeName: node.nodeName,
      time: nowTimestamp(),
    });

  return {
    getFlows: serveStream('GetFlows', async (call) => {
      const req: GetFlowsRequest = call.request;
      const flowMatches = compileRequestFilters(req.whitelist, req.blacklist);
      const maskPaths = req.fieldMask?.length ? req.fieldMask : (req.experimental?.fieldMask ?? []);
      const mask = FlowFieldMask.compile(maskPaths);
      const matches: Predicate = (e) => e.kind === 'flow' && flowMatches(e.flow);
      await streamEvents(
        call,
        ring,
        req,
        matches,
        (e) => {
          if (e.kind === 'lost')
            return GetFlowsResponse.fromPartial({ lostEvents: e.lostEvent, nodeName: e.nodeName, time: e.timestamp });
          if (e.kind !== 'flow') return undefined;
          const flow = mask === undefined ? e.flow : mask.apply(e.flow);
          return { flow, nodeName: e.flow.nodeName, time: e.flow.time } as GetFlowsResponse;
        },
        lostResponse,
      );
    }),

    getAgentEvents: serveStream('GetAgentEvents', async (call) => {
      const req: GetAgentEventsRequest = call.request;
      await streamEvents(
        call,
        ring,
        req,
        (e) => e.kind === 'agent',
        (e) =>
          e.kind === 'agent'
            ? GetAgentEventsResponse.fromPartial({ agentEvent: e.agentEvent, nodeName: e.nodeName, time: e.timestamp })
            : undefined,
        undefined,
      );
    }),

    getDebugEvents: serveStream('GetDebugEvents', async (call) => {
      const req: GetDebugEventsRequest = call.request;
      await streamEvents(
        call,
        ring,
        req,
        (e) => e.kind === 'debug',
        (e) =>
          e.kind === 'debug'
            ? GetDebugEventsResponse.fromPartial({ debugEvent: e.debugEvent, nodeName: e.nodeName, time: e.timestamp })
            : undefined,
        undefined,
      );
    }),

    serverStatus: (_call, callback) => {
      callback(null, {
        numFlows: ring.len,
        maxFlows: ring.cap,
        seenFlows: observer.seenFlows,
        uptimeNs: uptimeNs(observer),
        numConnectedNodes: undefined,
        numUnavailableNodes: undefined,
        unavailableNodes: [],
        version: node.version,
        flowsRate: flowsPerSecond(ring, Date.now()),
      });
    },

    getNodes: (_call, callback) => {
      callback(null, {
        nodes: [
          {
            name: node.nodeName,
            version: node.version,
            address: node.address,
            state: NodeState.NODE_CONNECTED,
            tls: { enabled: node.tlsEnabled, serverName: '' },
            uptimeNs: uptimeNs(observer),
            numFlows: ring.len,
            maxFlows: ring.cap,
            seenFlows: observer.seenFlows,
          },
        ],
      });
    },

    getNamespaces: (_call, callback) => {
      callback(null, { namespaces: observer.namespaces.list() });
    },
  };
}

function uptimeNs(observer: Observer): number {
  return (Date.now() - observer.startedAtMs) * 1_000_000;
}

function nowTimestamp(): Timestamp {
  const ms = Date.now();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

/**
 * Flows per second over the last minute, as Hubble computes it: count flows newer than a minute
 * ago walking back from the newest; if the ring holds less than a minute, rate over what it holds.
 */
export function flowsPerSecond(ring: Ring<DecodedEvent>, nowMs: number): number {
  const reader = ring.readerFromNow();
  let windowStartNs = BigInt(nowMs - 60_000) * 1_000_000n;
  let count = 0;
  let oldestSeen: bigint | undefined;
  for (;;) {
    const e = reader.previous();
    if (e === undefined) {
      // Walked the whole ring: if it has wrapped, older flows are gone, so rate over what it holds.
      if (ring.len === ring.cap && oldestSeen !== undefined) windowStartNs = oldestSeen;
      break;
    }
    if (e.kind !== 'flow') continue;
    const ts = toNanos(e.timestamp);
    if (ts < windowStartNs) break;
    oldestSeen = ts;
    count++;
  }
  const seconds = Number(BigInt(nowMs) * 1_000_000n - windowStartNs) / 1e9;
  return seconds > 0 ? count / seconds : 0;
}

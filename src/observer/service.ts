// The observer.Observer gRPC service: every read endpoint streams from the one ring, filtering per request.
import * as grpc from '@grpc/grpc-js';
import { boundedDetails } from '../server/statusDetails.js';
import type { Flow, FlowFilter } from '../api/flow/flow.js';
import type { Timestamp } from '../api/google/protobuf/timestamp.js';
import {
  GetFlowsResponse,
  ObserverService,
  type GetAgentEventsRequest,
  type GetDebugEventsRequest,
  type GetFlowsRequest,
  type ObserverServer,
} from '../api/observer/observer.js';
import { NodeState } from '../api/relay/relay.js';
import { messageBodyEncoder, ProtoWriter } from '../protowire/compiledEncoder.js';
import { drained, encodedStreamWriter } from '../protowire/encodedStream.js';
import { compareTime, EventKind, EventRing, type EventTime } from './eventRing.js';
import { FieldMaskError, FlowFieldMask } from './fieldMask.js';
import { compileFlowFiltersInTurns, FilterError, type FlowMatcher } from './filters/index.js';
import type { Observer } from './observer.js';
import { isLostMarker, type RingReader } from './ring.js';

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

/** Whether the entry at a ring position is one the request asks for (its kind, its filters). */
type Selector = (position: number) => boolean;

function checkTimestamp(ts: Timestamp | undefined, field: string): EventTime | undefined {
  if (ts === undefined) return undefined;
  // Same bounds as protobuf's Timestamp: years 0001..9999, nanos within a second.
  if (ts.nanos < 0 || ts.nanos > 999_999_999) {
    throw new ApiError(
      grpc.status.INVALID_ARGUMENT,
      `${field}: invalid timestamp: nanos ${ts.nanos} is not in 0..999999999`,
    );
  }
  // seconds beyond 2^53 arrive rounded (or saturated): say what is wrong rather than echo a number never sent.
  if (ts.seconds < -62_135_596_800 || ts.seconds > 253_402_300_799) {
    throw new ApiError(
      grpc.status.INVALID_ARGUMENT,
      `${field}: invalid timestamp: seconds is ${ts.seconds < 0 ? 'before 0001-01-01' : 'after 9999-12-31'}`,
    );
  }
  return ts;
}

/** -1, 0 or 1 as the entry at `position` happened before, at or after `t`. */
function compareEntryTime(ring: EventRing, position: number, t: EventTime): number {
  return compareTime(ring.secondsAt(position), ring.nanosAt(position), t.seconds, t.nanos);
}

/**
 * Positions a reader where the request starts, as Hubble does: `first` from the oldest event, `follow` alone from now,
 * otherwise walk back from the newest write until `number` matching events (or the `since` boundary) are behind us.
 * The `since` boundary is looked for ring.reorderDistance entries further back than the newest matching entry older
 * than it: L7 flows sit after newer entries. The walk takes its share of `budget` per entry (`entryCost`), so that a
 * request with many filters over a full ring leaves ingest and other clients their turns.
 */
async function startReader(
  ring: EventRing,
  req: EventsRequest,
  number: number,
  selects: Selector,
  since: EventTime | undefined,
  budget: TurnBudget,
  entryCost: number,
  signal: AbortSignal,
): Promise<RingReader> {
  if (req.first && since === undefined) return ring.readerFromOldest();
  if (req.follow && number === 0 && since === undefined) return ring.readerFromNow();
  const reader = ring.readerFromNow();
  let counted = 0;
  /** Position of the newest matching entry older than `since`, once seen. */
  let olderAt = -1;
  while (!signal.aborted) {
    if (!budget.take(entryCost)) {
      await budget.nextTurn();
      continue;
    }
    const p = reader.previous();
    if (p === undefined) break;
    if (olderAt >= 0 && olderAt - p > ring.reorderDistance) {
      reader.next(); // one step too far back
      break;
    }
    if (ring.kindAt(p) === EventKind.LOST || !selects(p)) continue;
    if (since !== undefined) {
      if (olderAt < 0 && compareEntryTime(ring, p, since) < 0) {
        olderAt = p;
        if (ring.reorderDistance === 0) {
          reader.next();
          break;
        }
      }
    } else if (++counted === number) {
      break;
    }
  }
  return reader;
}

/** Checks what every events request must satisfy (ApiError otherwise): since/until, number as a float. */
export function parseEventsRequest(req: EventsRequest): {
  since: EventTime | undefined;
  until: EventTime | undefined;
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
 * Entries all of a server's streams together read in one turn of the event loop (each a share; see entryCostOf).
 * The capture gets its turn between (a chunk of a file, what libpcap holds): however many clients follow, and
 * whatever they ask, reading never takes the larger share of the one thread that also takes the traffic in. A stream
 * over its share waits for the next turn; one that falls behind the ring is told what it lost, as in Hubble.
 */
const SHARES_PER_TURN = 256;
/** Filter tests a request may make per entry for one more share: about what sending one response costs. */
const FILTER_TESTS_PER_SHARE = 8;

/** The shares an entry read costs a request whose filters make up to `filterTests` tests per entry. */
function entryCostOf(filterTests: number): number {
  return 1 + Math.ceil(filterTests / FILTER_TESTS_PER_SHARE);
}

/** The shares left in this turn of the event loop, shared by the streams of one service. */
class TurnBudget {
  private left = SHARES_PER_TURN;
  private refillScheduled = false;
  private readonly refill = () => {
    this.refillScheduled = false;
    this.left = SHARES_PER_TURN;
  };

  /**
   * Takes an entry's `cost`; false when this turn's shares are spent (wait for nextTurn()). An entry dearer than what
   * is left still goes, and spends the turn: one costing more than a whole turn gets a turn to itself.
   */
  take(cost: number): boolean {
    if (!this.refillScheduled) {
      this.refillScheduled = true;
      setImmediate(this.refill);
    }
    if (this.left <= 0) return false;
    this.left -= cost;
    return true;
  }

  /** Resolves in the next turn, once the budget is refilled. */
  nextTurn(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * Streams the events a request selects, as encoded responses. `respond` gives the response for a selected entry (or
 * undefined to skip it; a view valid until its next call); lost entries in the ring (events lost before the ring) are
 * sent by GetFlows without counting towards `number`, and `respondOverrun` reports events the writer overwrote before
 * this reader got to them. Each entry read (sent or not: filtering costs too) takes its share of `budget` first, more
 * with filters that make `filterTests` tests per entry. The stream ends ring.reorderDistance entries after the first
 * one past `until`: an L7 flow within them may still be older.
 */
async function streamEvents(
  call: grpc.ServerWritableStream<unknown, Buffer>,
  ring: EventRing,
  req: EventsRequest,
  selects: Selector,
  filterTests: number,
  respond: (position: number) => Uint8Array | undefined,
  respondOverrun: ((numLost: number) => Uint8Array) | undefined,
  { budget, stopping }: StreamsShared,
): Promise<void> {
  const { since, until, number } = parseEventsRequest(req);
  const writer = encodedStreamWriter(call);
  const abort = new AbortController();
  const onCancel = () => abort.abort();
  call.once('cancelled', onCancel);
  call.once('close', onCancel);
  stopping?.addEventListener('abort', onCancel);
  // A call cancelled while its filters compiled has already said so.
  if (call.cancelled || stopping?.aborted === true) abort.abort();
  try {
    const entryCost = entryCostOf(filterTests);
    const reader = await startReader(ring, req, number, selects, since, budget, entryCost, abort.signal);
    let sent = 0;
    /** Where reading stops once an entry past `until` was seen. */
    let untilStop = -1;
    while (!abort.signal.aborted) {
      if (!req.follow && number > 0 && sent >= number) break;
      if (!budget.take(entryCost)) {
        await budget.nextTurn();
        continue;
      }
      let e = reader.next();
      if (e === undefined) {
        if (!req.follow) break;
        // Caught up: what this wake brought goes out now. Followers are woken in the check phase, where the
        // writer's own setImmediate flush would wait for the next turn of the event loop.
        writer.flush();
        e = await reader.nextFollow(abort.signal).catch(() => undefined);
        if (e === undefined) break;
      }
      let response: Uint8Array | undefined;
      if (isLostMarker(e)) {
        if (respondOverrun === undefined) continue;
        response = respondOverrun(e.numLost);
      } else {
        const lost = ring.kindAt(e) === EventKind.LOST;
        if (!lost) {
          if (untilStop >= 0 && e > untilStop) break;
          if (until !== undefined && compareEntryTime(ring, e, until) > 0) {
            if (untilStop < 0) untilStop = e + ring.reorderDistance;
            if (e >= untilStop) break;
            continue;
          }
          if (since !== undefined && compareEntryTime(ring, e, since) < 0) continue;
          if (!selects(e)) continue;
        }
        response = respond(e);
        if (response === undefined) continue;
        if (!lost) sent++;
      }
      if (!writer.write(response, 0, response.length)) await drained(writer, abort.signal);
    }
  } finally {
    call.off('cancelled', onCancel);
    call.off('close', onCancel);
    stopping?.removeEventListener('abort', onCancel);
    // What was written goes out before grpc-js ends the call with its status.
    writer.flush();
  }
  // Ended by the server going away, not by the client: say so, as a server that goes away does (UNAVAILABLE).
  if (stopping?.aborted === true && !call.cancelled) {
    throw new ApiError(grpc.status.UNAVAILABLE, 'the server is shutting down');
  }
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
  let code = grpc.status.INTERNAL;
  let message = `${method}: ${err instanceof Error ? err.message : String(err)}`;
  if (err instanceof ApiError) [code, message] = [err.code, err.message];
  else if (err instanceof FilterError || err instanceof FieldMaskError) {
    [code, message] = [grpc.status.INVALID_ARGUMENT, err.message];
  }
  return { code, details: boundedDetails(message) };
}

/**
 * Compiles a request's allow and deny lists, a few ms at a time; a bad filter is the client's error (INVALID_ARGUMENT).
 */
export async function compileRequestFilters(allow: FlowFilter[], deny: FlowFilter[]): Promise<FlowMatcher> {
  try {
    return await compileFlowFiltersInTurns(allow, deny);
  } catch (err) {
    if (err instanceof FilterError)
      throw new ApiError(grpc.status.INVALID_ARGUMENT, `invalid flow filter: ${err.message}`);
    throw err;
  }
}

/**
 * The Observer service as a node serves it: Hubble's definition, except that GetFlows, GetAgentEvents and
 * GetDebugEvents write responses already encoded (the ring keeps them as bytes).
 */
export const NODE_OBSERVER_SERVICE = {
  ...ObserverService,
  getFlows: { ...ObserverService.getFlows, responseSerialize: (value: Buffer): Buffer => value },
  getAgentEvents: { ...ObserverService.getAgentEvents, responseSerialize: (value: Buffer): Buffer => value },
  getDebugEvents: { ...ObserverService.getDebugEvents, responseSerialize: (value: Buffer): Buffer => value },
} as const;

export interface NodeObserverServer extends grpc.UntypedServiceImplementation {
  getFlows: grpc.handleServerStreamingCall<GetFlowsRequest, Buffer>;
  getAgentEvents: grpc.handleServerStreamingCall<GetAgentEventsRequest, Buffer>;
  getDebugEvents: grpc.handleServerStreamingCall<GetDebugEventsRequest, Buffer>;
  getNodes: ObserverServer['getNodes'];
  getNamespaces: ObserverServer['getNamespaces'];
  serverStatus: ObserverServer['serverStatus'];
}

const encodeFlowsResponse = messageBodyEncoder('observer.GetFlowsResponse');

/** A response the service makes itself (lost-event notices), encoded. */
function encodedFlowsResponse(res: GetFlowsResponse): Buffer {
  const w = new ProtoWriter(512);
  encodeFlowsResponse(res, w);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

/** What every stream of one Observer service shares. */
interface StreamsShared {
  /** Turns of the event loop shared between streams and ingest. */
  budget: TurnBudget;
  /** Aborted when the server shuts down: streams still running end UNAVAILABLE. */
  stopping: AbortSignal | undefined;
}

export interface ObserverServiceOptions {
  /** Aborted when the server shuts down: following streams end UNAVAILABLE at once, not cancelled later. */
  stopping?: AbortSignal;
}

export function createObserverService(
  observer: Observer,
  node: NodeIdentity,
  options: ObserverServiceOptions = {},
): NodeObserverServer {
  const ring = observer.ring;
  const streams: StreamsShared = { budget: new TurnBudget(), stopping: options.stopping };
  const overrunResponse = (numLost: number): Buffer =>
    encodedFlowsResponse(
      GetFlowsResponse.fromPartial({
        lostEvents: { source: 3 /* HUBBLE_RING_BUFFER */, numEventsLost: numLost },
        nodeName: node.nodeName,
        time: nowTimestamp(),
      }),
    );

  return {
    getFlows: serveStream('GetFlows', async (call) => {
      const req: GetFlowsRequest = call.request;
      const filtered = req.whitelist.length > 0 || req.blacklist.length > 0;
      const flowMatches = await compileRequestFilters(req.whitelist, req.blacklist);
      const maskPaths = req.fieldMask?.length ? req.fieldMask : (req.experimental?.fieldMask ?? []);
      const mask = FlowFieldMask.compile(maskPaths);
      // Unfiltered requests never decode a flow: the stored bytes go out as they are.
      const selects: Selector = filtered
        ? (p) => ring.kindAt(p) === EventKind.FLOW && flowMatches(ring.flowAt(p))
        : (p) => ring.kindAt(p) === EventKind.FLOW;
      await streamEvents(
        call,
        ring,
        req,
        selects,
        flowMatches.tests,
        (p) => {
          const kind = ring.kindAt(p);
          if (kind !== EventKind.FLOW && kind !== EventKind.LOST) return undefined;
          if (mask === undefined || kind === EventKind.LOST) return ring.responseAt(p);
          const flow = ring.flowAt(p);
          const masked = mask.apply(flow);
          // node_name and time of the response are the masked flow's, as Hubble sends them: gone unless the mask keeps them.
          return EventRing.flowsResponseOf(masked, masked.nodeName, masked.time);
        },
        overrunResponse,
        streams,
      );
    }),

    getAgentEvents: serveStream('GetAgentEvents', async (call) => {
      await streamEvents(
        call,
        ring,
        call.request,
        (p) => ring.kindAt(p) === EventKind.AGENT,
        0,
        (p) => (ring.kindAt(p) === EventKind.AGENT ? ring.responseAt(p) : undefined),
        undefined,
        streams,
      );
    }),

    getDebugEvents: serveStream('GetDebugEvents', async (call) => {
      await streamEvents(
        call,
        ring,
        call.request,
        (p) => ring.kindAt(p) === EventKind.DEBUG,
        0,
        (p) => (ring.kindAt(p) === EventKind.DEBUG ? ring.responseAt(p) : undefined),
        undefined,
        streams,
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
export function flowsPerSecond(ring: EventRing, nowMs: number): number {
  const reader = ring.readerFromNow();
  let window: EventTime = {
    seconds: Math.floor((nowMs - 60_000) / 1000),
    nanos: ((nowMs - 60_000) % 1000) * 1_000_000,
  };
  let count = 0;
  let oldestSeen: EventTime | undefined;
  for (;;) {
    const p = reader.previous();
    if (p === undefined) {
      // Walked the whole ring: if it has wrapped, older flows are gone, so rate over what it holds.
      if (ring.len === ring.cap && oldestSeen !== undefined) window = oldestSeen;
      break;
    }
    if (ring.kindAt(p) !== EventKind.FLOW) continue;
    if (compareEntryTime(ring, p, window) < 0) break;
    oldestSeen = { seconds: ring.secondsAt(p), nanos: ring.nanosAt(p) };
    count++;
  }
  const seconds = nowMs / 1000 - (window.seconds + window.nanos / 1e9);
  return seconds > 0 ? count / seconds : 0;
}

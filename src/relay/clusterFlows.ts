// GetFlows over the whole cluster: one upstream stream per connected node, merged by flow time, with node status
// reports as nodes connect, fail, go away and come back. Every resource a request opens is released when it ends.
//
// How a request is answered, by its shape:
// - last/first N (not following): every node is asked for its N, all answers are sorted by time and the cluster's
//   last (or first) N flows are sent: the last N of the cluster, not N per node. Lost events and status reports pass.
// - everything (not following): node answers are merged exactly: each node's answer is in time order, so the earliest
//   of the nodes' next responses goes next, once every node still answering has one waiting (a node that hangs is
//   given up after the idle timeout). A node far ahead of the others is paused until they catch up.
// - follow: node answers go through the sort buffer. With --last N, the cluster's last N are sent first (as above,
//   from non-following requests), then each node is followed from right after what it sent. A node that fails or
//   goes away is reported and rejoins when it is back, resuming after the last flow it sent (so a node that comes
//   back loses nothing its ring still holds); a node that appears later joins from then on.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Timestamp } from '../api/google/protobuf/timestamp.js';
import { GetFlowsResponse, type GetFlowsRequest } from '../api/observer/observer.js';
import { NodeState } from '../api/relay/relay.js';
import { FlowFieldMask } from '../observer/fieldMask.js';
import { ApiError, compileRequestFilters, parseEventsRequest } from '../observer/service.js';
import { encodedStreamWriter, type EncodedStreamWriter } from '../protowire/encodedStream.js';
import { backoffMs } from './backoff.js';
import { describeGrpcError, settledPeers, type PeerChange, type PeerDirectory, type PeerView } from './peerManager.js';
import { compareFlowTime, rawFlowsResponse, scanFlowsResponse, type RawFlowsResponse } from './flowsWire.js';
import type { NodeFlowsCall, NodeFlowsChannel } from './nodeFlows.js';
import { SortBuffer } from './sortBuffer.js';

export interface ClusterFlowsOptions {
  /** Most responses a request's sort buffer holds (sort-buffer-len-max). */
  sortBufferLenMax: number;
  /** Longest a response normally waits in the sort buffer (sort-buffer-drain-timeout). */
  sortBufferDrainTimeoutMs: number;
  /** Cap of the backoff between attempts to re-open a failed node stream. */
  retryTimeoutMs: number;
  /** Sender of the relay's own node status responses (upstream: the relay host's name). */
  relayName: string;
  logger: Logger;
  /** A node that sends nothing for this long on a request that does not follow is given up on (default 10 s). */
  nodeIdleTimeoutMs?: number;
  /** Failures with the same state and message within this window are reported together (default 200 ms). */
  statusAggregationMs?: number;
  /** Longest a unary call waits for the nodes when the client set no earlier deadline (default 5 s). */
  nodeRequestTimeoutMs?: number;
}

const DEFAULT_NODE_IDLE_TIMEOUT_MS = 10_000;
const DEFAULT_NODE_REQUEST_TIMEOUT_MS = 5_000;
const CONNECTING_WAIT_MAX_MS = 2_000;
const DEFAULT_STATUS_AGGREGATION_MS = 200;
/** Beyond 2^53 a number means "everything": hubble --all sends 2^64-1. */
const UNLIMITED = Number.MAX_SAFE_INTEGER;

type FlowsCall = grpc.ServerWritableStream<GetFlowsRequest, Buffer>;
type NodeStream = NodeFlowsCall;

type Plan =
  | { kind: 'collect'; keep: 'first' | 'last'; count: number }
  | { kind: 'merge' }
  | { kind: 'follow'; history: number | undefined };

/** One node's part in one request. */
interface NodeFlows {
  name: string;
  stream: NodeStream | undefined;
  /** The connection the current stream runs on: a new one means the peer was redialled. */
  channel: NodeFlowsChannel | undefined;
  purpose: 'history' | 'main';
  /** Its history request has ended (follow with --last N). */
  historyDone: boolean;
  /**
   * The flows it sent at the newest flow time so far (their UUIDs are read only when resuming): where a resumed
   * stream starts.
   */
  last: RawFlowsResponse[];
  /** While resuming: flows at this time with these UUIDs were sent already. */
  skip: { time: Timestamp; uuids: Set<string> } | undefined;
  /** Its stream ended at `until` (follow): it has nothing more to send. */
  finished: boolean;
  attempts: number;
  retryTimer: NodeJS.Timeout | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  /** When it last sent anything (for the idle timer, which checks this rather than being re-armed per chunk). */
  activeAtMs: number;
  timedOut: boolean;
  /** Merge: its responses not sent yet, from `queueHead` on (those before it are sent, and let go of). */
  queue: (RawFlowsResponse | undefined)[];
  queueHead: number;
  /** Merge: paused because its queue is long (the others are behind), until it shortens. */
  heldBack: boolean;
}

/** Merge: responses one node may have waiting before it is paused, and the count it is resumed at. */
const MERGE_QUEUE_MAX = 4096;
const MERGE_QUEUE_RESUME = MERGE_QUEUE_MAX / 2;

/** When a call stops waiting for the nodes (Date.now() time): nodeRequestTimeoutMs, or the client's earlier deadline. */
export function callDeadlineMs(call: { getDeadline(): grpc.Deadline }, opts: ClusterFlowsOptions): number {
  const own = Date.now() + (opts.nodeRequestTimeoutMs ?? DEFAULT_NODE_REQUEST_TIMEOUT_MS);
  const theirs = call.getDeadline();
  return Math.min(own, theirs instanceof Date ? theirs.getTime() : theirs);
}

/**
 * Until when (Date.now() time) a call waits for nodes whose connection is being dialled before it counts them
 * unavailable: at most 2 s, and half the time the call has, leaving the rest for the nodes' answers.
 */
export function connectingWaitUntilMs(call: { getDeadline(): grpc.Deadline }, opts: ClusterFlowsOptions): number {
  const now = Date.now();
  return now + Math.min(CONNECTING_WAIT_MAX_MS, (callDeadlineMs(call, opts) - now) / 2);
}

/** Validates a GetFlows request (ApiError, FilterError, FieldMaskError) and answers it from every node. */
export async function streamClusterFlows(
  call: FlowsCall,
  peers: PeerDirectory,
  opts: ClusterFlowsOptions,
  register: (request: ClusterFlowsRequest) => () => void,
): Promise<void> {
  const req = call.request;
  const { since, number } = parseEventsRequest(req);
  // The nodes check these too; checking here answers a bad request once, not once per node.
  await compileRequestFilters(req.whitelist, req.blacklist);
  FlowFieldMask.compile(req.fieldMask?.length ? req.fieldMask : (req.experimental?.fieldMask ?? []));
  const counted = number > 0 && number < UNLIMITED;
  let plan: Plan;
  if (req.follow) plan = { kind: 'follow', history: counted && since === undefined ? number : undefined };
  // A node given since and number sends the first `number` flows since then: so does the cluster.
  else if (counted)
    plan = { kind: 'collect', keep: req.first || since !== undefined ? 'first' : 'last', count: number };
  else plan = { kind: 'merge' };
  // A request that follows takes in nodes as they connect; any other answers from the nodes there are once it starts.
  if (plan.kind !== 'follow') await settledPeers(peers, connectingWaitUntilMs(call, opts));
  if (call.cancelled) return;
  const request = new ClusterFlowsRequest(call, peers, opts, plan);
  const unregister = register(request);
  try {
    await request.run();
  } finally {
    unregister();
  }
  // Ended by the relay going away, not by the client: say so, as a server that goes away does (UNAVAILABLE).
  if (request.endedByShutdown && !call.cancelled) {
    throw new ApiError(grpc.status.UNAVAILABLE, 'the relay is shutting down');
  }
}

export class ClusterFlowsRequest {
  private readonly req: GetFlowsRequest;
  /** When the request began (this host's clock): where a node that sent nothing before failing resumes from. */
  private readonly startedAt = timestampOfMs(Date.now());
  private readonly nodes = new Map<string, NodeFlows>();
  /** Streams the relay cancelled itself: their CANCELLED status is no failure. */
  private readonly cancelledByUs = new WeakSet<NodeStream>();
  private readonly buffer: SortBuffer<RawFlowsResponse>;
  private readonly writer: EncodedStreamWriter;
  /** Date.now() read once per chunk of responses from a node, not per response (undefined between chunks). */
  private nowMs: number | undefined;
  private readonly idleTimeoutMs: number;
  private readonly aggregationMs: number;
  private drainTimer: NodeJS.Timeout | undefined;
  private drainAtMs = Infinity;
  /** Answers of the history requests, or (collect) of every request. */
  private collected: RawFlowsResponse[] = [];
  /** Following answers that arrived while the history was still being gathered. */
  private held: RawFlowsResponse[] | undefined;
  private readonly pendingStatus = new Map<string, { state: NodeState; message: string; names: string[] }>();
  private statusTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private paused = false;
  private stopped = false;
  private shuttingDown = false;
  private openStreams = 0;
  private resolveRun: (() => void) | undefined;

  constructor(
    private readonly call: FlowsCall,
    private readonly peers: PeerDirectory,
    private readonly opts: ClusterFlowsOptions,
    private readonly plan: Plan,
  ) {
    this.req = call.request;
    this.buffer = new SortBuffer(opts.sortBufferLenMax, opts.sortBufferDrainTimeoutMs);
    this.writer = encodedStreamWriter(call);
    this.idleTimeoutMs = opts.nodeIdleTimeoutMs ?? DEFAULT_NODE_IDLE_TIMEOUT_MS;
    this.aggregationMs = opts.statusAggregationMs ?? DEFAULT_STATUS_AGGREGATION_MS;
    if (plan.kind === 'follow' && plan.history !== undefined) this.held = [];
  }

  /** Resolves when the answer is complete, the client went away, or the relay shuts down. */
  run(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.resolveRun = resolve;
      const onGone = () => this.stop();
      this.call.once('cancelled', onGone);
      this.call.once('close', onGone);
      this.start();
    });
  }

  /** Whether the request was ended by the relay shutting down. */
  get endedByShutdown(): boolean {
    return this.shuttingDown;
  }

  /** Ends the request because the relay is shutting down: its client is told UNAVAILABLE. */
  shutdown(): void {
    this.shuttingDown = true;
    this.stop();
  }

  /** Ends the request: cancels every node stream it opened, clears its timers, lets the handler return. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe?.();
    for (const node of this.nodes.values()) {
      clearTimeout(node.retryTimer);
      clearTimeout(node.idleTimer);
      if (node.stream !== undefined) this.cancel(node);
    }
    clearTimeout(this.drainTimer);
    clearTimeout(this.statusTimer);
    // Whatever was sent goes out before grpc-js ends the call.
    this.writer.flush();
    this.resolveRun?.();
  }

  private start(): void {
    const connected: PeerView[] = [];
    const unavailable: string[] = [];
    for (const peer of this.peers.list()) {
      if (peer.state === 'connected' && peer.flows !== undefined) connected.push(peer);
      else unavailable.push(peer.name);
    }
    // As upstream: first tell the client which nodes it will hear from, and which it will not.
    if (connected.length > 0)
      this.send(
        this.statusResponse(
          NodeState.NODE_CONNECTED,
          connected.map((p) => p.name),
        ),
      );
    if (unavailable.length > 0) this.send(this.statusResponse(NodeState.NODE_UNAVAILABLE, unavailable));
    if (this.plan.kind === 'follow') this.unsubscribe = this.peers.subscribe((change) => this.onPeerChange(change));
    const history = this.plan.kind === 'follow' && this.plan.history !== undefined;
    for (const peer of connected) {
      const node = this.node(peer.name);
      if (history) this.open(node, peer.flows!, { ...this.req, follow: false }, 'history');
      else this.open(node, peer.flows!, this.req, 'main');
    }
    if (history) this.checkHistory();
    else if (this.plan.kind !== 'follow' && this.openStreams === 0) this.complete();
  }

  private node(name: string): NodeFlows {
    let node = this.nodes.get(name);
    if (node === undefined) {
      node = {
        name,
        stream: undefined,
        channel: undefined,
        purpose: 'main',
        historyDone: false,
        last: [],
        skip: undefined,
        finished: false,
        attempts: 0,
        retryTimer: undefined,
        idleTimer: undefined,
        activeAtMs: 0,
        timedOut: false,
        queue: [],
        queueHead: 0,
        heldBack: false,
      };
      this.nodes.set(name, node);
    }
    return node;
  }

  /** Opens `node`'s stream; with `announce`, NODE_CONNECTED is reported once it answers (a rejoin). */
  private open(
    node: NodeFlows,
    channel: NodeFlowsChannel,
    request: GetFlowsRequest,
    purpose: NodeFlows['purpose'],
    announce = false,
  ): void {
    const withUuid = this.plan.kind === 'follow';
    const stream: NodeStream = channel.open(request, forwardedMetadata(this.call.metadata), this.call.getDeadline(), {
      response: (bytes, start, end) => {
        if (node.stream !== stream || this.stopped) return;
        if (announce) {
          announce = false;
          this.report(NodeState.NODE_CONNECTED, node.name);
        }
        this.nowMs ??= Date.now();
        this.receive(node, scanFlowsResponse(bytes, start, end, withUuid));
      },
      chunkEnd: () => {
        node.activeAtMs = this.nowMs ?? Date.now();
        this.nowMs = undefined;
        if (this.plan.kind === 'merge') this.drainMerge();
        // Once per chunk rather than per response: the drain timer follows the oldest arrival.
        this.armDrain();
      },
      end: (err) => this.ended(node, stream, err),
    });
    node.stream = stream;
    node.channel = channel;
    node.purpose = purpose;
    node.timedOut = false;
    node.activeAtMs = Date.now();
    this.openStreams++;
    if (this.paused) stream.pause();
    if (!request.follow) this.watchIdle(node, stream);
  }

  /** A node that stopped answering (hung, not gone) must not hold the cluster's answer forever. */
  private watchIdle(node: NodeFlows, stream: NodeStream): void {
    const check = () => {
      if (node.stream !== stream) return;
      // While the client, or the merge, holds it up, a node's silence is ours.
      const heldUp = this.paused || node.heldBack;
      const quietMs = heldUp ? 0 : Date.now() - node.activeAtMs;
      if (quietMs < this.idleTimeoutMs) {
        if (heldUp) node.activeAtMs = Date.now();
        node.idleTimer = setTimeout(check, this.idleTimeoutMs - quietMs);
        return;
      }
      node.timedOut = true;
      this.cancel(node);
    };
    clearTimeout(node.idleTimer);
    node.idleTimer = setTimeout(check, this.idleTimeoutMs);
  }

  private cancel(node: NodeFlows): void {
    const stream = node.stream;
    if (stream === undefined) return;
    this.cancelledByUs.add(stream);
    stream.cancel();
  }

  private receive(node: NodeFlows, res: RawFlowsResponse): void {
    // Only a followed node is ever resumed: where it stands matters to no other plan.
    if (res.isFlow && this.plan.kind === 'follow') {
      if (node.skip !== undefined) {
        const since = compareFlowTime(res, node.skip.time);
        if (since === 0 && res.hasUuid && node.skip.uuids.has(res.uuid())) return; // sent before the break
        if (since > 0) node.skip = undefined;
      }
      const last = node.last[0];
      const after = last === undefined ? 1 : compareFlowTime(res, last);
      if (after > 0) {
        node.last.length = 0;
        node.last.push(res);
      } else if (after === 0) node.last.push(res);
    }
    this.route(res, node.purpose, node);
  }

  /**
   * Where an answer goes: the history or collection, the node's merge queue, the holding line, or the sort buffer.
   * `node` is who sent it (undefined for the relay's own status reports, which merge sends at once).
   */
  private route(res: RawFlowsResponse, purpose: NodeFlows['purpose'], node?: NodeFlows): void {
    if (this.plan.kind === 'collect' || purpose === 'history') {
      this.collected.push(res);
      return;
    }
    if (this.plan.kind === 'merge') {
      if (node === undefined) return this.send(res);
      node.queue.push(res);
      if (!node.heldBack && node.queue.length - node.queueHead > MERGE_QUEUE_MAX) {
        node.heldBack = true;
        node.stream?.pause();
      }
      return;
    }
    if (this.held !== undefined) {
      this.held.push(res);
      return;
    }
    const released = this.buffer.push(res, this.nowMs ?? Date.now());
    if (released !== undefined) this.send(released);
    // Inside a chunk from a node, chunkEnd arms the drain timer once for all of it.
    if (this.nowMs === undefined) this.armDrain();
  }

  private armDrain(): void {
    const at = this.buffer.nextDeadlineMs();
    if (at === this.drainAtMs) return;
    clearTimeout(this.drainTimer);
    this.drainAtMs = at ?? Infinity;
    if (at === undefined || this.stopped) return;
    this.drainTimer = setTimeout(
      () => {
        this.drainAtMs = Infinity;
        const out: RawFlowsResponse[] = [];
        this.buffer.drainExpired(Date.now(), out);
        this.sendAll(out);
        this.writer.flush();
        this.armDrain();
      },
      Math.max(0, at - Date.now()),
    );
  }

  private ended(node: NodeFlows, stream: NodeStream, err: grpc.ServiceError | undefined): void {
    if (node.stream !== stream) return;
    node.stream = undefined;
    clearTimeout(node.idleTimer);
    this.openStreams--;
    if (this.stopped) return;
    const byUs = this.cancelledByUs.has(stream);
    let failed = false;
    if (node.timedOut) {
      failed = true;
      const details = `no answer within ${this.idleTimeoutMs / 1000}s (the node hangs)`;
      this.report(NodeState.NODE_ERROR, node.name, nodeErrorMessage({ code: grpc.status.DEADLINE_EXCEEDED, details }));
    } else if (err !== undefined && !byUs && err.code !== grpc.status.CANCELLED) {
      failed = true;
      // As upstream: any failure of a node's stream is NODE_ERROR (a node that went away is retried all the same).
      this.report(NodeState.NODE_ERROR, node.name, nodeErrorMessage(err));
      this.opts.logger.warn({ peer: node.name, reason: describeGrpcError(err) }, 'flows from peer interrupted');
    }
    if (this.plan.kind !== 'follow') {
      if (this.openStreams === 0) this.complete();
      else if (this.plan.kind === 'merge') this.drainMerge();
      return;
    }
    if (node.purpose === 'history') {
      node.historyDone = true;
      if (failed) this.scheduleRejoin(node);
      else if (!byUs && node.channel !== undefined) this.open(node, node.channel, this.resumeRequest(node), 'main');
      this.checkHistory();
      return;
    }
    if (byUs) return; // restarted or removed on purpose
    if (err === undefined && this.req.until !== undefined) {
      node.finished = true; // it reached `until`
      this.completeIfAllFinished();
      return;
    }
    this.scheduleRejoin(node);
  }

  /** The request a node resumes with: right after the last flow it sent, or from where its history ended. */
  private resumeRequest(node: NodeFlows): GetFlowsRequest {
    const base: GetFlowsRequest = { ...this.req, follow: true, first: false, number: '0' };
    const last = node.last[0];
    if (last !== undefined) {
      const time = { seconds: last.seconds, nanos: last.nanos };
      if (node.last.every((res) => res.hasUuid)) {
        node.skip = { time, uuids: new Set(node.last.map((res) => res.uuid())) };
        return { ...base, since: time };
      }
      // Without UUIDs (a field mask left them out) the flows at that exact time cannot be told apart: skip past it.
      return { ...base, since: nextNanosecond(time) };
    }
    if (this.req.since !== undefined) return base;
    // Its history had no flows: whatever its last N are now came after the history was taken.
    if (node.historyDone && this.plan.kind === 'follow' && this.plan.history !== undefined) {
      return { ...base, number: String(this.plan.history), since: undefined };
    }
    // It sent nothing before failing: everything since the request began, so what it captured between failing and
    // being redialled (the backoff reaches 30 s) is not lost.
    return { ...base, since: this.startedAt };
  }

  private scheduleRejoin(node: NodeFlows): void {
    if (this.stopped || node.retryTimer !== undefined) return;
    const peer = this.peers.list().find((p) => p.name === node.name);
    // Not connected: the peer manager redials it, and its change brings the node back (onPeerChange).
    if (peer === undefined || peer.state !== 'connected') return;
    const waitMs = backoffMs(node.attempts++, this.opts.retryTimeoutMs);
    node.retryTimer = setTimeout(() => {
      node.retryTimer = undefined;
      this.rejoin(node);
    }, waitMs);
  }

  private rejoin(node: NodeFlows): void {
    if (this.stopped || node.stream !== undefined || node.finished) return;
    const peer = this.peers.list().find((p) => p.name === node.name);
    if (peer === undefined || peer.state !== 'connected' || peer.flows === undefined) return;
    clearTimeout(node.retryTimer);
    node.retryTimer = undefined;
    // Announced once it answers: a node whose process hangs still counts as connected until pings time out.
    this.open(node, peer.flows, this.resumeRequest(node), 'main', true);
  }

  private onPeerChange({ peer, removed }: PeerChange): void {
    if (this.stopped) return;
    const node = this.nodes.get(peer.name);
    if (removed) {
      if (node === undefined) return;
      clearTimeout(node.retryTimer);
      node.retryTimer = undefined;
      if (node.stream !== undefined) {
        this.cancel(node);
        if (node.purpose === 'history') {
          node.historyDone = true;
          this.checkHistory();
        }
      }
      this.report(NodeState.NODE_GONE, peer.name);
      return;
    }
    if (peer.state !== 'connected' || peer.flows === undefined) return;
    if (node === undefined) {
      // A node that was not there when the request started: it joins from now on.
      this.open(this.node(peer.name), peer.flows, this.resumeRequest(this.node(peer.name)), 'main');
      this.report(NodeState.NODE_CONNECTED, peer.name);
      return;
    }
    if (node.stream !== undefined) {
      // Redialled under a running stream (e.g. a new address): move the stream to the new connection.
      if (node.channel === peer.flows || node.purpose === 'history') return;
      this.cancel(node);
      node.stream = undefined;
      this.openStreams--;
      this.open(node, peer.flows, this.resumeRequest(node), 'main');
      return;
    }
    if (node.purpose === 'history' && !node.historyDone) return;
    node.attempts = 0;
    this.rejoin(node);
  }

  /** Once every history request has ended: the cluster's last N, then what the nodes sent since. */
  private checkHistory(): void {
    if (this.held === undefined || this.plan.kind !== 'follow' || this.plan.history === undefined) return;
    for (const node of this.nodes.values()) if (node.purpose === 'history' && !node.historyDone) return;
    this.flushStatus();
    this.sendAll(selectFlows(this.collected, this.plan.history, 'last'));
    this.collected = [];
    const held = this.held;
    this.held = undefined;
    for (const res of held) this.route(res, 'main');
    this.writer.flush();
  }

  private completeIfAllFinished(): void {
    for (const node of this.nodes.values()) if (!node.finished) return;
    this.complete();
  }

  /** The answer is complete (not following, or every node reached `until`): send what is left and end. */
  private complete(): void {
    if (this.stopped) return;
    this.flushStatus();
    if (this.plan.kind === 'collect') {
      this.sendAll(selectFlows(this.collected, this.plan.count, this.plan.keep));
      this.collected = [];
    } else if (this.plan.kind === 'merge') {
      this.drainMerge();
    } else {
      const out: RawFlowsResponse[] = [];
      this.buffer.flush(out);
      this.sendAll(out);
    }
    this.stop();
  }

  private report(state: NodeState, name: string, message = ''): void {
    const key = `${state}\u0000${message}`;
    let pending = this.pendingStatus.get(key);
    if (pending === undefined) {
      pending = { state, message, names: [] };
      this.pendingStatus.set(key, pending);
    }
    if (!pending.names.includes(name)) pending.names.push(name);
    this.statusTimer ??= setTimeout(() => {
      this.statusTimer = undefined;
      this.flushStatus();
    }, this.aggregationMs);
  }

  private flushStatus(): void {
    clearTimeout(this.statusTimer);
    this.statusTimer = undefined;
    for (const { state, message, names } of this.pendingStatus.values()) {
      this.route(this.statusResponse(state, names, message), 'main');
    }
    this.pendingStatus.clear();
  }

  private statusResponse(state: NodeState, nodeNames: string[], message = ''): RawFlowsResponse {
    return rawFlowsResponse(
      GetFlowsResponse.fromPartial({
        nodeStatus: { stateChange: state, nodeNames, message },
        nodeName: this.opts.relayName,
        time: timestampOfMs(Date.now()),
      }),
    );
  }

  /**
   * Merge: sends the earliest of the nodes' next responses for as long as every node still answering has one waiting
   * (a node whose stream ended has nothing more to wait for).
   */
  private drainMerge(): void {
    for (;;) {
      let next: NodeFlows | undefined;
      for (const node of this.nodes.values()) {
        const head = node.queue[node.queueHead];
        if (head === undefined) {
          if (node.stream !== undefined) return; // still answering: its next one may be the earliest
          continue;
        }
        if (next === undefined || compareFlowTime(head, next.queue[next.queueHead]!) < 0) next = node;
      }
      if (next === undefined || this.stopped) return;
      this.send(next.queue[next.queueHead]!);
      next.queue[next.queueHead++] = undefined;
      const waiting = next.queue.length - next.queueHead;
      if (waiting === 0 || next.queueHead >= MERGE_QUEUE_MAX) {
        next.queue = next.queue.slice(next.queueHead);
        next.queueHead = 0;
      }
      if (next.heldBack && waiting <= MERGE_QUEUE_RESUME) {
        next.heldBack = false;
        if (!this.paused) next.stream?.resume();
      }
    }
  }

  private sendAll(responses: readonly RawFlowsResponse[]): void {
    for (let i = 0; i < responses.length; i++) this.send(responses[i]!);
  }

  /** Writes one response; a client that cannot keep up pauses every node stream until it drains. */
  private send(res: RawFlowsResponse): void {
    if (this.stopped) return;
    if (this.writer.write(res.bytes, res.start, res.end) || this.paused) return;
    this.paused = true;
    for (const node of this.nodes.values()) node.stream?.pause();
    this.writer.onceDrained(() => {
      this.paused = false;
      if (this.stopped) return;
      for (const node of this.nodes.values()) if (!node.heldBack) node.stream?.resume();
    });
  }
}

/**
 * Sorts answers by time (stably: equal times keep their arrival order) and keeps the first or last `count` flows;
 * lost events and status reports are kept wherever they fall.
 */
export function selectFlows(
  responses: readonly RawFlowsResponse[],
  count: number,
  keep: 'first' | 'last',
): RawFlowsResponse[] {
  // Array.prototype.sort is stable: equal times keep their arrival order.
  const sorted = responses.slice().sort(compareFlowTime);
  let flows = 0;
  for (const res of sorted) if (res.isFlow) flows++;
  const excess = Math.max(0, flows - count);
  const out: RawFlowsResponse[] = [];
  let seen = 0;
  for (const res of sorted) {
    if (res.isFlow) {
      seen++;
      if (keep === 'last' ? seen <= excess : seen > count) continue;
    }
    out.push(res);
  }
  return out;
}

/** The Timestamp one nanosecond after `t`. */
function nextNanosecond(t: Timestamp): Timestamp {
  return t.nanos >= 999_999_999 ? { seconds: t.seconds + 1, nanos: 0 } : { seconds: t.seconds, nanos: t.nanos + 1 };
}

function timestampOfMs(ms: number): Timestamp {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}

/**
 * As upstream words node failures (Go's status error text): the node's own message for UNKNOWN, otherwise
 * "rpc error: code = Unavailable desc = ...", so clients matching on upstream's messages match ours.
 */
function nodeErrorMessage(err: Pick<grpc.ServiceError, 'code' | 'details'>): string {
  if (err.code === grpc.status.UNKNOWN) return err.details;
  const code = GO_CODE_NAMES[err.code] ?? `Code(${err.code})`;
  return `rpc error: code = ${code} desc = ${err.details}`;
}

/** grpc-go's names of the status codes, by number (codes.Code.String()). */
const GO_CODE_NAMES: readonly string[] = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];

/**
 * The client's metadata, passed on to the nodes as upstream's relay does (authorization and custom headers reach
 * them); grpc-js sets its own user-agent. A fresh copy per call: grpc-js may add to what it is given.
 */
export function forwardedMetadata(incoming: grpc.Metadata): grpc.Metadata {
  const metadata = incoming.clone();
  metadata.remove('user-agent');
  return metadata;
}

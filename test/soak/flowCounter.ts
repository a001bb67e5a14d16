// A GetFlows client that counts instead of decoding: each response is scanned on the wire for what accounting needs
// (flow, lost events and how many, node status, node name), so fifty of them in one test process cost little. Used by
// the soak and by the fault tests as followers, slow readers and clients of the relay.
import * as grpc from '@grpc/grpc-js';
import { GetFlowsRequest, ObserverService, type DeepPartial } from '../../src/api/observer/observer.js';

/** What one response was, read from its top-level fields (observer.proto, flow.proto). */
export interface ScannedResponse {
  kind: 'flow' | 'lost' | 'status' | 'other';
  nodeName: string;
  /** lost_events.num_events_lost, for kind 'lost'. */
  numLost: number;
  /** lost_events.source (flow.LostEventSource), for kind 'lost'. */
  lostSource: number;
  /** node_status.state_change (relay.NodeState), for kind 'status'. */
  nodeState: number;
  /** node_status.node_names, for kind 'status'. */
  nodeNames: string[];
  /** node_status.message, for kind 'status'. */
  message: string;
}

class Cursor {
  constructor(
    private readonly b: Buffer,
    public pos: number,
    private readonly end: number,
  ) {}
  more(): boolean {
    return this.pos < this.end;
  }
  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const byte = this.b[this.pos++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
  }
  span(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    this.pos += len;
    if (this.pos > this.end) throw new Error('field runs past its message');
    return [start, this.pos];
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.span();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`wire type ${wire}`);
  }
}

/** Scans one encoded GetFlowsResponse. */
export function scanResponse(bytes: Buffer): ScannedResponse {
  const out: ScannedResponse = {
    kind: 'other',
    nodeName: '',
    numLost: 0,
    lostSource: 0,
    nodeState: 0,
    nodeNames: [],
    message: '',
  };
  const c = new Cursor(bytes, 0, bytes.length);
  while (c.more()) {
    const tag = c.varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 1 && wire === 2) {
      out.kind = 'flow';
      c.span();
    } else if (field === 3 && wire === 2) {
      out.kind = 'lost';
      const [s, e] = c.span();
      const l = new Cursor(bytes, s, e);
      while (l.more()) {
        const t = l.varint();
        if (t === 0x08) out.lostSource = l.varint();
        else if (t === 0x10) out.numLost = l.varint();
        else l.skip(t % 8);
      }
    } else if (field === 2 && wire === 2) {
      out.kind = 'status';
      const [s, e] = c.span();
      const n = new Cursor(bytes, s, e);
      while (n.more()) {
        const t = n.varint();
        if (t === 0x08) out.nodeState = n.varint();
        else if (t === 0x12) {
          const [ns, ne] = n.span();
          out.nodeNames.push(bytes.toString('utf8', ns, ne));
        } else if (t === 0x1a) {
          const [ms, me] = n.span();
          out.message = bytes.toString('utf8', ms, me);
        } else n.skip(t % 8);
      }
    } else if (field === 1000 && wire === 2) {
      const [s, e] = c.span();
      out.nodeName = bytes.toString('utf8', s, e);
    } else {
      c.skip(wire);
    }
  }
  return out;
}

/** flow.LostEventSource.PERF_EVENT_RING_BUFFER: a stored event saying the capture lost packets (kernel drops). */
const PERF_EVENT_RING_BUFFER = 1;

/**
 * Per node name: flows received, stored lost events received (a capture's kernel drops: events the node stored, of
 * `captureLost` packets), and events the streams said this reader lost.
 */
export interface NodeTally {
  flows: number;
  captureLostEvents: number;
  captureLost: number;
  lost: number;
}

/** Every event the node had for this reader: received (flows, stored lost events) or reported lost to it. */
export const accountedOf = (t: NodeTally): number => t.flows + t.captureLostEvents + t.lost;

/** An open GetFlows stream and what it has received so far. */
export class FlowCounter {
  readonly call: grpc.ClientReadableStream<ScannedResponse>;
  flows = 0;
  /** Lost events the node stored because its capture lost packets (kernel drops), and how many packets they tell of. */
  captureLostEvents = 0;
  captureLost = 0;
  /** Sum of num_events_lost over the lost-event responses that tell this reader what it missed. */
  lost = 0;
  /** Lost-event responses received. */
  lostMessages = 0;
  readonly byNode = new Map<string, NodeTally>();
  readonly statuses: ScannedResponse[] = [];
  /** Resolves with the status the stream ended with (code 0 when it ended with OK). */
  readonly ended: Promise<grpc.StatusObject>;
  private lastChangeMs = Date.now();

  constructor(client: grpc.Client, request: DeepPartial<GetFlowsRequest>, options: grpc.CallOptions = {}) {
    const { path, requestSerialize } = ObserverService.getFlows;
    this.call = client.makeServerStreamRequest(
      path,
      requestSerialize,
      scanResponse,
      GetFlowsRequest.fromPartial(request),
      new grpc.Metadata(),
      options,
    );
    this.call.on('data', (r: ScannedResponse) => this.count(r));
    this.ended = new Promise((resolve) => {
      this.call.on('status', (s: grpc.StatusObject) => resolve(s));
      this.call.on('error', () => undefined); // the status event carries it
    });
  }

  private count(r: ScannedResponse): void {
    this.lastChangeMs = Date.now();
    if (r.kind === 'status') {
      this.statuses.push(r);
      return;
    }
    if (r.kind !== 'flow' && r.kind !== 'lost') return;
    let tally = this.byNode.get(r.nodeName);
    if (tally === undefined)
      this.byNode.set(r.nodeName, (tally = { flows: 0, captureLostEvents: 0, captureLost: 0, lost: 0 }));
    if (r.kind === 'flow') {
      this.flows++;
      tally.flows++;
    } else if (r.lostSource === PERF_EVENT_RING_BUFFER) {
      this.captureLostEvents++;
      this.captureLost += r.numLost;
      tally.captureLostEvents++;
      tally.captureLost += r.numLost;
    } else {
      this.lost += r.numLost;
      this.lostMessages++;
      tally.lost += r.numLost;
    }
  }

  /** Events received plus events the stream said it lost: every event the server had for this reader. */
  get accounted(): number {
    return this.flows + this.captureLostEvents + this.lost;
  }

  /** Milliseconds since the last response. */
  get idleMs(): number {
    return Date.now() - this.lastChangeMs;
  }

  cancel(): void {
    this.call.cancel();
  }
}

/** A client of one server's Observer (its own connection when `connectionTag` differs from other clients'). */
export function observerClient(target: string, connectionTag = 'shared'): grpc.Client {
  // A distinct channel option gives a client its own connection: a paused stream then holds only its own windows.
  return new grpc.Client(target, grpc.credentials.createInsecure(), {
    'grpc.primary_user_agent': `soak-${connectionTag}`,
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
  });
}

/** Waits until `condition` holds, polling every `everyMs`; throws with `what` (and `detail()`) after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
  detail: () => string = () => '',
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} ${detail()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

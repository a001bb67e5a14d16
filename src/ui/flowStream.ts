// GET /api/flows: one GetFlows stream relayed to one browser as server-sent events, in batches. What is waiting for the
// browser is bounded: a following stream that the browser cannot keep up with drops flows (counted, and the count goes
// to the page with the next batch) rather than fall behind; a stream of history pauses its GetFlows call instead, so a
// time window arrives whole however slowly it is read.
import type { ServerResponse } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { NodeState } from '../api/relay/relay.js';
import type { GetFlowsResponse } from '../api/observer/observer.js';
import type { FlowRowBuilder } from './flowRow.js';
import type { FlowRow, FlowsBatch, NodeStatusMessage, StreamEnd } from './wire.js';

/** Counters of every stream this UI server has served, for /api/status and metrics. */
export class StreamCounters {
  /** Streams open now. */
  streams = 0;
  /** Flows left out because a browser read too slowly, since the server started. */
  dropped = 0;
}

export interface FlowStreamOptions {
  /** Rows held for the browser at most. */
  queueSize: number;
  /** The request follows: drop when the browser is slow (else pause the call). */
  follow: boolean;
  counters: StreamCounters;
  /** How long rows gather before a batch is written (default 50 ms: 20 batches a second at most). */
  batchMs?: number;
  /** A comment every this often keeps proxies from closing a quiet stream (default 15 s). */
  heartbeatMs?: number;
}

/** Rows in one `flows` event at most: a page handles one batch per animation frame. */
const MAX_BATCH = 1000;
/** Node status messages held at most (they are rare; a flood of them is cut). */
const MAX_STATUS = 64;

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

function describeError(err: grpc.ServiceError): string {
  return err.details || err.message;
}

/** Streams `call` into `res` until the call ends, fails, or the browser goes away; resolves when all is released. */
export function relayFlows(
  res: ServerResponse,
  call: grpc.ClientReadableStream<GetFlowsResponse>,
  rows: FlowRowBuilder,
  options: FlowStreamOptions,
): Promise<void> {
  const batchMs = options.batchMs ?? 50;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const counters = options.counters;
  let queue: FlowRow[] = [];
  const statuses: NodeStatusMessage[] = [];
  let dropped = 0;
  let lost = 0;
  let reported = { dropped: 0, lost: 0 };
  let ended: StreamEnd | undefined;
  let finished = false;
  let paused = false;
  let timer: NodeJS.Timeout | undefined;
  let waitingForDrain = false;

  counters.streams++;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
  });
  res.write(': hubble-ts flows\n\n');

  return new Promise<void>((resolve) => {
    const heartbeat = setInterval(() => {
      if (!res.writableNeedDrain) res.write(': keep-alive\n\n');
    }, heartbeatMs);

    const release = () => {
      if (finished) return;
      finished = true;
      counters.streams--;
      clearTimeout(timer);
      clearInterval(heartbeat);
      call.removeAllListeners('data');
      resolve();
    };

    const flush = () => {
      timer = undefined;
      if (finished) return;
      if (res.writableNeedDrain) {
        if (!waitingForDrain) {
          waitingForDrain = true;
          res.once('drain', () => {
            waitingForDrain = false;
            flush();
          });
        }
        return;
      }
      let text = '';
      while (statuses.length > 0) text += sse('nodes', statuses.shift());
      if (queue.length > 0 || dropped !== reported.dropped || lost !== reported.lost) {
        const flows = queue.length <= MAX_BATCH ? queue : queue.slice(0, MAX_BATCH);
        queue = queue.length <= MAX_BATCH ? [] : queue.slice(MAX_BATCH);
        text += sse('flows', { flows, dropped, lost } satisfies FlowsBatch);
        reported = { dropped, lost };
      }
      if (text !== '') res.write(text);
      if (paused && queue.length < options.queueSize / 2) {
        paused = false;
        call.resume();
      }
      if (queue.length > 0) {
        timer = setTimeout(flush, 0);
      } else if (ended !== undefined) {
        res.end(sse('end', ended));
        release();
      }
    };

    const schedule = () => {
      if (timer === undefined && !finished) timer = setTimeout(flush, batchMs);
    };

    call.on('data', (response: GetFlowsResponse) => {
      if (response.flow !== undefined) {
        if (queue.length >= options.queueSize) {
          // Only a following stream gets here: history pauses the call before its queue is full.
          dropped++;
          counters.dropped++;
        } else {
          queue.push(rows.row(response as GetFlowsResponse & { flow: NonNullable<GetFlowsResponse['flow']> }));
          if (!options.follow && queue.length >= options.queueSize) {
            paused = true;
            call.pause();
          }
        }
      } else if (response.lostEvents !== undefined) {
        lost += response.lostEvents.numEventsLost;
      } else if (response.nodeStatus !== undefined && statuses.length < MAX_STATUS) {
        const s = response.nodeStatus;
        statuses.push({
          state: NodeState[s.stateChange] ?? String(s.stateChange),
          nodes: s.nodeNames,
          message: s.message,
        });
      }
      schedule();
    });
    call.on('end', () => {
      ended ??= {};
      schedule();
    });
    call.on('error', (err: grpc.ServiceError) => {
      if (finished) return;
      ended = { error: describeError(err) };
      schedule();
    });
    // The browser went away (closed the tab, applied another filter): stop reading the ring for it.
    res.on('close', () => {
      call.cancel();
      release();
    });
  });
}

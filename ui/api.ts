// The page's side of the HTTP endpoints: JSON calls that turn every failure into one sentence, and the flow stream
// read with fetch (not EventSource, which retries by itself and hides the status and message of a refusal).
import {
  FOLLOWS_HEADER,
  type ErrorBody,
  type FlowsBatch,
  type NodeStatusMessage,
  type StreamEnd,
} from '../src/ui/wire.js';

/** Sent with every request that changes something (the server refuses such requests without it). */
const CSRF_HEADER = 'x-hubble-ts-ui';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function errorOf(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as Partial<ErrorBody>;
    if (typeof body.error === 'string') message = body.error;
  } catch {
    // Not our JSON (a proxy's page): the status line says enough.
  }
  return new ApiError(res.status, message);
}

function unreachable(err: unknown): ApiError {
  if (err instanceof DOMException && err.name === 'AbortError') throw err;
  return new ApiError(0, 'the server did not answer: is hubble-ts still running?');
}

export async function getJson<T>(path: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
  } catch (err) {
    throw unreachable(err);
  }
  if (!res.ok) throw await errorOf(res);
  return (await res.json()) as T;
}

export async function send<T>(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<T | undefined> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json', [CSRF_HEADER]: '1' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw unreachable(err);
  }
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return undefined;
  return (await res.json()) as T;
}

export interface FlowStreamHandlers {
  /** The server accepted the query; `follows`: the stream goes on with new flows (FOLLOWS_HEADER). */
  started(follows: boolean): void;
  flows(batch: FlowsBatch): void;
  nodes(status: NodeStatusMessage): void;
  end(end: StreamEnd): void;
}

/**
 * Reads GET /api/flows until it ends or `signal` aborts. Rejects with ApiError when the server refuses the request
 * (a bad filter, too many streams) or cannot be reached.
 */
export async function streamFlows(query: URLSearchParams, handlers: FlowStreamHandlers, signal: AbortSignal) {
  let res: Response;
  try {
    res = await fetch(`/api/flows?${query}`, {
      headers: { accept: 'text/event-stream' },
      credentials: 'same-origin',
      signal,
    });
  } catch (err) {
    throw unreachable(err);
  }
  if (!res.ok || res.body === null) throw await errorOf(res);
  handlers.started(res.headers.get(FOLLOWS_HEADER) === '1');
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let ended = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let at: number;
      while ((at = buffer.indexOf('\n\n')) !== -1) {
        const message = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        let event = 'message';
        let data = '';
        for (const line of message.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (data === '') continue;
        const parsed: unknown = JSON.parse(data);
        if (event === 'flows') handlers.flows(parsed as FlowsBatch);
        else if (event === 'nodes') handlers.nodes(parsed as NodeStatusMessage);
        else if (event === 'end') {
          ended = true;
          handlers.end(parsed as StreamEnd);
        }
      }
    }
  } catch (err) {
    if (signal.aborted) return;
    throw unreachable(err);
  }
  if (!ended && !signal.aborted) handlers.end({ error: 'the server closed the stream; press Apply to start again' });
}

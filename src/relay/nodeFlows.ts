// GetFlows on a node, spoken over HTTP/2 directly: the relay's one hot call. grpc-js hands every message of a server
// stream up through half a dozen layers with a process.nextTick, two promises, a copy, and a pause and resume of the
// HTTP/2 stream each: about 3.5 µs a message on our 2-core bench VM, more than everything else the relay does per
// flow. Here the length-prefixed messages are read where they lie in the chunks HTTP/2 delivers (about 0.9 µs a
// message, nearly all of it HTTP/2's own). Dialling checks, unary calls, the Peer service and everything else stay
// with grpc-js; this speaks just enough gRPC for one server-streaming call: request headers and deadline, the
// length-prefixed messages, trailers (and trailers-only answers), and grpc-js's statuses for broken streams.
import * as http2 from 'node:http2';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { GetFlowsRequest, ObserverService } from '../api/observer/observer.js';
import { VERSION } from '../server/version.js';
import { uint32At } from '../packet/format.js';

/** TLS towards a node: the CA bundle to verify it (system roots when absent), our client pair, its expected name. */
export interface NodeTls {
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  serverName: string;
}

/** What a GetFlows call on a node reports; every callback runs on the event loop, never inside pause/cancel. */
export interface NodeFlowsHandler {
  /**
   * One response, `bytes[start, end)`: a view into a chunk the node sent, which is never reused (keeping the view
   * keeps the chunk). May throw (a response that is not well-formed): the call then fails with INTERNAL.
   */
  response(bytes: Buffer, start: number, end: number): void;
  /** After the responses found in one chunk of data. */
  chunkEnd(): void;
  /** The call is over: undefined when the node completed its answer (status OK). Called once, and last. */
  end(error: grpc.ServiceError | undefined): void;
}

/** Largest response accepted, as the relay's grpc-js clients accept (grpc-go's limit). */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/**
 * HTTP/2 flow-control windows: what a node may send ahead of what the relay has read. Large enough that a node never
 * waits for a window update at full speed (grpc-js's default of 64 KiB stalls every 240 flows), small enough that a
 * paused stream (a slow client) holds little: 1 MiB per node stream, 8 MiB per connection.
 */
const STREAM_WINDOW_BYTES = 1024 * 1024;
const SESSION_WINDOW_BYTES = 8 * 1024 * 1024;
/**
 * Each session is pinged this often, and given up when a ping goes unanswered this long: a node whose process is
 * stopped, or whose host went away without a reset, keeps its TCP connection open but answers nothing, and its
 * streams would wait forever (a follower never told the node is gone). HTTP/2 answers pings below gRPC, so a node
 * that is merely quiet answers them.
 */
export interface NodeKeepalive {
  intervalMs: number;
  timeoutMs: number;
}
const DEFAULT_KEEPALIVE: NodeKeepalive = { intervalMs: 15_000, timeoutMs: 10_000 };
const GET_FLOWS_PATH = ObserverService.getFlows.path;
const USER_AGENT = `hubble-ts-relay/${VERSION}`;

type Status = { code: grpc.status; details: string };

/** A gRPC status error as grpc-js makes them, so callers handle both alike. */
function serviceError({ code, details }: Status, metadata = new grpc.Metadata()): grpc.ServiceError {
  return Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), { code, details, metadata });
}

/**
 * One node's GetFlows connection: an HTTP/2 session dialled on first use, shared by every call, dialled again when it
 * has gone away (closed, failed or told to go away). close() ends it and every call on it.
 */
export class NodeFlowsChannel {
  private current: DialledSession | undefined;
  private closed = false;
  private readonly authority: string;

  constructor(
    /** "host:port", "[v6]:port" or "unix:///path" (the peer manager's dial target). */
    private readonly target: string,
    private readonly tls: NodeTls | undefined,
    private readonly dialTimeoutMs: number,
    private readonly keepalive: NodeKeepalive = DEFAULT_KEEPALIVE,
  ) {
    // The :authority grpc-js would send: the TLS name when one is set, "localhost" for a unix socket, else the target.
    this.authority = tls !== undefined ? tls.serverName : target.startsWith('unix:') ? 'localhost' : target;
  }

  /** Starts GetFlows; the handler hears every response, then the end. */
  open(
    request: GetFlowsRequest,
    metadata: grpc.Metadata,
    deadline: grpc.Deadline,
    handler: NodeFlowsHandler,
  ): NodeFlowsCall {
    return new NodeFlowsCall(this, request, metadata, deadline, handler);
  }

  /** Ends the session: calls still running end UNAVAILABLE; open() is no longer allowed. */
  close(): void {
    this.closed = true;
    this.current?.session.destroy();
    this.current = undefined;
  }

  /** @internal The session a new call goes on (dialling one when there is none usable). */
  sessionForCall(): DialledSession {
    if (this.closed) throw new Error('the connection to this node was closed');
    const current = this.current;
    if (current !== undefined && !current.session.closed && !current.session.destroyed) return current;
    return this.dial();
  }

  private dial(): DialledSession {
    const options: http2.SecureClientSessionOptions = {
      settings: { initialWindowSize: STREAM_WINDOW_BYTES, enablePush: false },
      // As grpc-js: node's own cap on session memory degrades badly when reached; the windows bound what we hold.
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
    };
    // The socket is made here so that a dial given up can end it: destroying the session does not stop a connect
    // still under way (a node whose link is down: its SYNs go unanswered), which then completed on a dead session.
    let socket: Socket | undefined;
    let url: string;
    if (this.target.startsWith('unix:')) {
      const path = this.target.replace(/^unix:(\/\/)?/, '');
      url = 'http://localhost';
      options.createConnection = () => (socket = netConnect(path));
    } else {
      const address = new URL(`http://${this.target}`);
      const host = address.hostname.replace(/^\[(.*)\]$/, '$1');
      const port = Number(address.port || 80);
      if (this.tls !== undefined) {
        url = `https://${this.target}`;
        const { ca, cert, key, serverName } = this.tls;
        options.createConnection = () =>
          (socket = tlsConnect({
            host,
            port,
            ca,
            cert,
            key,
            ALPNProtocols: ['h2'],
            // Verified against the expected name, as grpc-js's ssl_target_name_override does; SNI only for a host name.
            servername: isIP(serverName) === 0 ? serverName : undefined,
            checkServerIdentity: (_host, peerCert) => checkServerIdentity(serverName, peerCert),
          }));
      } else {
        url = `http://${this.target}`;
        options.createConnection = () => (socket = netConnect({ host, port }));
      }
    }
    const session = http2.connect(url, options);
    const dialled: DialledSession = { session, error: undefined };
    this.current = dialled;
    session.unref();
    const timer = setTimeout(() => {
      dialled.error = `no connection within ${this.dialTimeoutMs / 1000}s`;
      session.destroy();
      socket?.destroy();
    }, this.dialTimeoutMs);
    timer.unref();
    let pinger: NodeJS.Timeout | undefined;
    session.once('connect', () => {
      clearTimeout(timer);
      if (session.destroyed) return;
      session.setLocalWindowSize(SESSION_WINDOW_BYTES);
      pinger = keepAliveTimer(dialled, this.keepalive);
    });
    session.on('error', (err: Error) => (dialled.error ??= err.message));
    const retire = () => {
      clearTimeout(timer);
      clearInterval(pinger);
      if (this.current === dialled) this.current = undefined;
    };
    // A session told to go away takes no new calls; those running finish on it.
    session.once('goaway', retire);
    session.once('close', retire);
    return dialled;
  }
}

/** Pings `dialled`'s session every keepalive interval; one unanswered within the timeout destroys it. */
function keepAliveTimer(dialled: DialledSession, keepalive: NodeKeepalive): NodeJS.Timeout {
  const { session } = dialled;
  let waiting = false;
  const pinger = setInterval(() => {
    if (waiting || session.destroyed) return;
    waiting = true;
    const timeout = setTimeout(() => {
      dialled.error ??= `no answer to an HTTP/2 ping within ${keepalive.timeoutMs / 1000}s (the node hangs)`;
      session.destroy();
    }, keepalive.timeoutMs);
    timeout.unref();
    const sent = session.ping((err) => {
      waiting = false;
      clearTimeout(timeout);
      if (err !== null) dialled.error ??= err.message;
    });
    if (!sent) {
      waiting = false;
      clearTimeout(timeout);
    }
  }, keepalive.intervalMs);
  pinger.unref();
  return pinger;
}

/** A session and, once it failed, why (e.g. "connect ECONNREFUSED 127.0.0.1:4244", a TLS error). */
interface DialledSession {
  readonly session: http2.ClientHttp2Session;
  error: string | undefined;
}

/** One GetFlows call on a node. */
export class NodeFlowsCall {
  private readonly stream: http2.ClientHttp2Stream;
  private readonly dialled: DialledSession | undefined;
  private status: Status | undefined;
  private trailersMetadata: grpc.Metadata | undefined;
  private httpStatus: number | undefined;
  private ended = false;
  private cancelledWith: Status | undefined;
  private streamError: Error | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  /** A message split across chunks: its pieces so far, and its whole framed size once the prefix is known. */
  private partial: Buffer[] = [];
  private partialBytes = 0;

  constructor(
    channel: NodeFlowsChannel,
    request: GetFlowsRequest,
    metadata: grpc.Metadata,
    deadline: grpc.Deadline,
    private readonly handler: NodeFlowsHandler,
  ) {
    const headers: http2.OutgoingHttpHeaders = {
      ...metadata.toHttp2Headers(),
      [http2.constants.HTTP2_HEADER_METHOD]: 'POST',
      [http2.constants.HTTP2_HEADER_PATH]: GET_FLOWS_PATH,
      [http2.constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
      [http2.constants.HTTP2_HEADER_TE]: 'trailers',
      [http2.constants.HTTP2_HEADER_USER_AGENT]: USER_AGENT,
      'grpc-accept-encoding': 'identity',
    };
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
    const timeoutMs = Number.isFinite(deadlineMs) ? Math.max(0, Math.ceil(deadlineMs - Date.now())) : Infinity;
    if (timeoutMs !== Infinity) headers['grpc-timeout'] = grpcTimeout(timeoutMs);
    let dialled: DialledSession | undefined;
    let stream: http2.ClientHttp2Stream | undefined;
    try {
      dialled = channel.sessionForCall();
      stream = dialled.session.request(headers, { endStream: false });
    } catch (err) {
      // A session that cannot take calls any more (closing, or the channel closed): as a dropped connection.
      this.finish({ code: grpc.status.UNAVAILABLE, details: (err as Error).message });
    }
    this.dialled = dialled;
    this.stream = stream!;
    if (stream === undefined) return;
    const body = GetFlowsRequest.encode(request).finish();
    const framed = Buffer.allocUnsafe(5 + body.length);
    framed[0] = 0;
    framed.writeUInt32BE(body.length, 1);
    framed.set(body, 5);
    stream.end(framed);
    if (timeoutMs !== Infinity) {
      this.deadlineTimer = setTimeout(
        () => this.abort({ code: grpc.status.DEADLINE_EXCEEDED, details: 'Deadline exceeded' }),
        timeoutMs,
      );
    }
    stream.on('response', (h) => this.onHeaders(h));
    stream.on('trailers', (h) => this.onTrailers(h));
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('error', (err: Error) => (this.streamError ??= err));
    stream.on('close', () => this.onClose());
  }

  /** Stops reading: the node may send at most its window more (1 MiB) until resume(). */
  pause(): void {
    if (!this.ended) this.stream.pause();
  }

  resume(): void {
    if (!this.ended) this.stream.resume();
  }

  /** Cancels the call (RST_STREAM CANCEL, which the node sees as the client going away); ends it CANCELLED. */
  cancel(): void {
    this.abort({ code: grpc.status.CANCELLED, details: 'Cancelled on client' });
  }

  private abort(status: Status): void {
    if (this.ended || this.cancelledWith !== undefined) return;
    this.cancelledWith = status;
    if (!this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
    this.finish(status);
  }

  private onHeaders(headers: http2.IncomingHttpHeaders): void {
    this.httpStatus = Number(headers[http2.constants.HTTP2_HEADER_STATUS]);
    // A trailers-only answer (an error before any message): the status is in the headers.
    if (headers['grpc-status'] !== undefined) this.onTrailers(headers);
  }

  private onTrailers(headers: http2.IncomingHttpHeaders): void {
    const metadata = grpc.Metadata.fromHttp2Headers(headers);
    const code = Number(headers['grpc-status']);
    let details = '';
    const message = headers['grpc-message'];
    if (typeof message === 'string') {
      try {
        details = decodeURI(message);
      } catch {
        details = message;
      }
    }
    for (const name of ['grpc-status', 'grpc-message', ':status', 'content-type']) metadata.remove(name);
    this.trailersMetadata = metadata;
    this.status = Number.isInteger(code)
      ? { code: code as grpc.status, details }
      : { code: grpc.status.UNKNOWN, details: `Invalid grpc-status ${String(headers['grpc-status'])}` };
  }

  private onData(chunk: Buffer): void {
    if (this.ended) return;
    try {
      this.readMessages(chunk);
    } catch (err) {
      this.abort({
        code: err instanceof StatusError ? err.code : grpc.status.INTERNAL,
        details: err instanceof StatusError ? err.message : `Response message parsing error: ${(err as Error).message}`,
      });
    } finally {
      this.handler.chunkEnd();
    }
  }

  /** Hands every whole message in `chunk` (with what earlier chunks left) to the handler; keeps the rest. */
  private readMessages(chunk: Buffer): void {
    let pos = 0;
    if (this.partial.length > 0) {
      // Finish the message begun in earlier chunks, copying only its own bytes.
      this.partial.push(chunk);
      this.partialBytes += chunk.length;
      const head = this.partialBytes >= 5 ? Buffer.concat(this.partial, 5) : undefined;
      if (head === undefined) return;
      const size = 5 + head.readUInt32BE(1);
      this.checkPrefix(head[0]!, size - 5);
      if (this.partialBytes < size) return;
      const spill = this.partialBytes - size; // bytes of `chunk` past the message
      const message = Buffer.concat(this.partial, size);
      this.partial = [];
      this.partialBytes = 0;
      this.handler.response(message, 5, size);
      if (this.ended) return;
      pos = chunk.length - spill;
    }
    while (chunk.length - pos >= 5) {
      const len = uint32At(chunk, pos + 1);
      if (chunk[pos] !== 0 || len > MAX_MESSAGE_BYTES) this.checkPrefix(chunk[pos]!, len);
      const end = pos + 5 + len;
      if (end > chunk.length) break;
      this.handler.response(chunk, pos + 5, end);
      if (this.ended) return;
      pos = end;
    }
    if (pos < chunk.length) {
      this.partial.push(chunk.subarray(pos));
      this.partialBytes = chunk.length - pos;
    }
  }

  private checkPrefix(flag: number, len: number): void {
    if (len > MAX_MESSAGE_BYTES) {
      throw new StatusError(
        grpc.status.RESOURCE_EXHAUSTED,
        `Received message larger than max (${len} vs ${MAX_MESSAGE_BYTES})`,
      );
    }
    // We accept identity only: a compressed message means the node ignored grpc-accept-encoding.
    if (flag !== 0) throw new StatusError(grpc.status.INTERNAL, 'Received a compressed message; none was negotiated');
  }

  private onClose(): void {
    if (this.ended) return;
    if (this.status !== undefined) {
      if (this.status.code === grpc.status.OK && this.partialBytes > 0) {
        this.finish({ code: grpc.status.INTERNAL, details: 'Stream ended inside a message' });
      } else this.finish(this.status, this.trailersMetadata);
      return;
    }
    this.finish(this.brokenStatus());
  }

  /** The status of a stream that ended without one, as grpc-js words it. */
  private brokenStatus(): Status {
    if (this.httpStatus !== undefined && this.httpStatus !== 200) return httpStatusToGrpc(this.httpStatus);
    const session = this.dialled?.session;
    if (this.dialled?.error !== undefined || session?.destroyed || session?.closed) {
      // The connection went (or never came): the node is unavailable, for the socket's or TLS's reason (which the
      // stream may hear before the session does: "canceled (caused by: connect ECONNREFUSED ...)").
      const cause = (this.streamError as (Error & { cause?: unknown }) | undefined)?.cause;
      const reason = this.dialled?.error ?? (cause instanceof Error ? cause.message : this.streamError?.message);
      return { code: grpc.status.UNAVAILABLE, details: reason ?? 'Connection dropped' };
    }
    const c = http2.constants;
    switch (this.stream.rstCode) {
      case c.NGHTTP2_REFUSED_STREAM:
        return { code: grpc.status.UNAVAILABLE, details: 'Stream refused by server' };
      case c.NGHTTP2_CANCEL:
        return { code: grpc.status.CANCELLED, details: 'Call cancelled' };
      case c.NGHTTP2_ENHANCE_YOUR_CALM:
        return { code: grpc.status.RESOURCE_EXHAUSTED, details: 'Bandwidth exhausted or memory limit exceeded' };
      case c.NGHTTP2_INADEQUATE_SECURITY:
        return { code: grpc.status.PERMISSION_DENIED, details: 'Protocol not secure enough' };
      default: {
        const why = this.streamError === undefined ? 'Call ended without gRPC status' : this.streamError.message;
        return { code: grpc.status.INTERNAL, details: `Received RST_STREAM with code ${this.stream.rstCode} (${why})` };
      }
    }
  }

  private finish(status: Status, metadata?: grpc.Metadata): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.deadlineTimer);
    this.partial = [];
    this.partialBytes = 0;
    // Never inside the caller's own cancel() or pause(): as grpc-js, the end comes on a later tick.
    process.nextTick(() =>
      this.handler.end(status.code === grpc.status.OK ? undefined : serviceError(status, metadata)),
    );
  }
}

class StatusError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

/** grpc-js's reading of an HTTP status that is not 200 (a proxy, or not a gRPC server). */
function httpStatusToGrpc(httpStatus: number): Status {
  const details = `Received HTTP status code ${httpStatus}`;
  switch (httpStatus) {
    case 400:
      return { code: grpc.status.INTERNAL, details };
    case 401:
      return { code: grpc.status.UNAUTHENTICATED, details };
    case 403:
      return { code: grpc.status.PERMISSION_DENIED, details };
    case 404:
      return { code: grpc.status.UNIMPLEMENTED, details };
    case 429:
    case 502:
    case 503:
    case 504:
      return { code: grpc.status.UNAVAILABLE, details };
    default:
      return { code: grpc.status.UNKNOWN, details };
  }
}

/** The grpc-timeout header: at most 8 digits and a unit. */
function grpcTimeout(ms: number): string {
  if (ms < 1e8) return `${ms}m`;
  if (ms / 1000 < 1e8) return `${Math.ceil(ms / 1000)}S`;
  if (ms / 60_000 < 1e8) return `${Math.ceil(ms / 60_000)}M`;
  return `${Math.min(99_999_999, Math.ceil(ms / 3_600_000))}H`;
}

// How the web UI reaches the services it shows: as a gRPC client of the server it runs in, over a unix socket (the
// node's own socket; a private one on the relay). The page thus sees exactly what `hubble observe` and `hubble record`
// see on the same server (the same filters, the same ring readers, the same cluster merge), never a copy of the ring.
import * as grpc from '@grpc/grpc-js';
import {
  RecordingsClient,
  type DownloadResponse,
  type ListResponse,
  type DeleteResponse,
} from '../api/hubblets/recordings/v1/recordings.js';
import {
  ObserverClient,
  type GetFlowsRequest,
  type GetFlowsResponse,
  type GetNamespacesResponse,
  type GetNodesResponse,
  type ServerStatusResponse,
} from '../api/observer/observer.js';
import { RecorderClient, type RecordRequest, type RecordResponse } from '../api/recorder/recorder.js';

/** The Observer API as the page uses it. */
export interface ObserverBackend {
  getFlows(request: GetFlowsRequest): grpc.ClientReadableStream<GetFlowsResponse>;
  serverStatus(): Promise<ServerStatusResponse>;
  getNodes(): Promise<GetNodesResponse>;
  getNamespaces(): Promise<GetNamespacesResponse>;
}

/** The Recorder and the recordings store as the page uses them (a node only). */
export interface RecorderBackend {
  record(): grpc.ClientDuplexStream<RecordRequest, RecordResponse>;
  list(): Promise<ListResponse>;
  download(name: string): grpc.ClientReadableStream<DownloadResponse>;
  delete(name: string, stopIfRunning: boolean): Promise<DeleteResponse>;
}

export interface UiBackend {
  observer: ObserverBackend;
  /** Undefined where the Recorder is not served (the relay). */
  recorder: RecorderBackend | undefined;
  close(): void;
}

/** Unary calls answer within this, or the page gets a 504 saying the server did not answer. */
const UNARY_DEADLINE_MS = 10_000;
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

function unary<T>(call: (deadline: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: T) => void) => void) {
  return new Promise<T>((resolve, reject) =>
    call({ deadline: Date.now() + UNARY_DEADLINE_MS }, (err, res) => (err ? reject(err) : resolve(res!))),
  );
}

/** Clients of the API on `socketPath`; the Recorder's too when `withRecorder`. */
export function grpcBackend(socketPath: string, withRecorder: boolean): UiBackend {
  const target = `unix://${socketPath}`;
  const credentials = grpc.credentials.createInsecure();
  const options: grpc.ClientOptions = {
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  };
  const observerClient = new ObserverClient(target, credentials, options);
  const shared = { ...options, channelOverride: observerClient.getChannel() };
  const recorderClient = withRecorder ? new RecorderClient(target, credentials, shared) : undefined;
  const recordingsClient = withRecorder ? new RecordingsClient(target, credentials, shared) : undefined;
  const meta = () => new grpc.Metadata();

  const observer: ObserverBackend = {
    getFlows: (request) => observerClient.getFlows(request),
    serverStatus: () => unary((o, cb) => observerClient.serverStatus({}, meta(), o, cb)),
    getNodes: () => unary((o, cb) => observerClient.getNodes({}, meta(), o, cb)),
    getNamespaces: () => unary((o, cb) => observerClient.getNamespaces({}, meta(), o, cb)),
  };
  const recorder: RecorderBackend | undefined =
    recorderClient && recordingsClient
      ? {
          record: () => recorderClient.record(),
          list: () => unary((o, cb) => recordingsClient.list({}, meta(), o, cb)),
          download: (name) => recordingsClient.download({ name, follow: false }),
          delete: (name, stopIfRunning) =>
            unary((o, cb) => recordingsClient.delete({ name, stopIfRunning }, meta(), o, cb)),
        }
      : undefined;
  return {
    observer,
    recorder,
    close() {
      recorderClient?.close();
      recordingsClient?.close();
      observerClient.close();
    },
  };
}

// hubblets.recordings.v1.Recordings: the recordings store over gRPC (List, Download with follow, Delete).
import * as grpc from '@grpc/grpc-js';
import type { Timestamp } from '../api/google/protobuf/timestamp.js';
import type {
  DownloadRequest,
  DownloadResponse,
  ListResponse,
  Recording,
  RecordingsServer,
} from '../api/hubblets/recordings/v1/recordings.js';
import { toGrpcStatus } from './apiError.js';
import type { RecordingsStore, StoredRecording } from './store.js';

/** File times come as fractional milliseconds (microsecond precision); a Timestamp keeps them. */
function timestamp(ms: number): Timestamp {
  const micros = Math.round(ms * 1000);
  return { seconds: Math.floor(micros / 1_000_000), nanos: (micros % 1_000_000) * 1000 };
}

export function recordingMessage(r: StoredRecording): Recording {
  return {
    name: r.name,
    size: r.size,
    created: timestamp(r.createdMs),
    modified: timestamp(r.modifiedMs),
    stats: r.stats && {
      bytesCaptured: r.stats.bytesCaptured,
      packetsCaptured: r.stats.packetsCaptured,
      packetsLost: r.stats.packetsLost,
      bytesLost: r.stats.bytesLost,
    },
    running: r.running,
    nodeName: r.nodeName,
    filePath: r.path,
  };
}

function waitForDrain(call: grpc.ServerWritableStream<unknown, unknown>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      call.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    call.on('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

async function streamDownload(
  store: RecordingsStore,
  call: grpc.ServerWritableStream<DownloadRequest, DownloadResponse>,
): Promise<void> {
  const abort = new AbortController();
  const onGone = (): void => abort.abort();
  call.once('cancelled', onGone);
  call.once('close', onGone);
  try {
    for await (const data of store.download(call.request.name, call.request.follow, abort.signal)) {
      if (abort.signal.aborted) break;
      if (!call.write({ data })) await waitForDrain(call, abort.signal);
    }
  } finally {
    call.off('cancelled', onGone);
    call.off('close', onGone);
  }
}

export function createRecordingsService(store: RecordingsStore): RecordingsServer {
  return {
    list: (_call, callback) => {
      store.list().then(
        (recordings): void => callback(null, { recordings: recordings.map(recordingMessage) } satisfies ListResponse),
        (err: unknown) => callback(toGrpcStatus(err, 'List')),
      );
    },

    download: (call) => {
      streamDownload(store, call).then(
        () => {
          if (!call.cancelled) call.end();
        },
        // grpc-js turns an 'error' event on a server stream into the call's status (destroy() would send none).
        (err: unknown) => call.emit('error', toGrpcStatus(err, 'Download')),
      );
    },

    delete: (call, callback) => {
      store.delete(call.request.name, call.request.stopIfRunning).then(
        ({ stopped }) => callback(null, { stopped }),
        (err: unknown) => callback(toGrpcStatus(err, 'Delete')),
      );
    },
  };
}

// Downloading a recording from the server's recordings store into a new file or stdout, following it while it
// grows if asked: shared by `recordings download` and `record --output`.
import { createWriteStream, unlinkSync, type WriteStream } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { DownloadRequest, DownloadResponse } from '../api/hubblets/recordings/v1/recordings.js';
import { CliError, describeCallError, HubbleConnection, isServiceError } from './client.js';
import type { CliIo } from './observe.js';

/** A store refusal says what was wrong in full; anything else is worded as every call failure is. */
export function describeStoreError(err: unknown, server: string, what: string): string {
  if (isServiceError(err)) {
    switch (err.code) {
      case grpc.status.NOT_FOUND:
      case grpc.status.INVALID_ARGUMENT:
      case grpc.status.FAILED_PRECONDITION:
        return err.details;
    }
  }
  return describeCallError(err, server, what);
}

/** Where downloaded bytes go: a new file (never overwriting one) or stdout. */
export interface Destination {
  write(chunk: Buffer): boolean;
  once(event: 'drain', listener: () => void): unknown;
  /** Resolves once everything written is out (the same promise however often asked); rejects with a write error. */
  finish(): Promise<void>;
  /** Removes what was written (a file only) after a failed download. */
  discard(): void;
  /** Bytes written so far. */
  readonly written: number;
  readonly broken: Promise<Error>;
}

/** `-`: stdout (refused when it is a terminal); anything else: a new file. */
export function openDestination(output: string, io: CliIo): Destination {
  return output === '-' ? stdoutDestination(io) : fileDestination(output);
}

function fileDestination(path: string): Destination {
  const out: WriteStream = createWriteStream(path, { flags: 'wx', mode: 0o600 });
  let created = false;
  out.once('open', () => (created = true));
  const broken = new Promise<Error>((resolve) => out.once('error', resolve));
  let written = 0;
  let finishing: Promise<void> | undefined;
  return {
    write: (chunk) => {
      written += chunk.length;
      return out.write(chunk);
    },
    once: (event, listener) => out.once(event, listener),
    get written() {
      return written;
    },
    // Once: a download that ended by itself has finished its file already.
    finish: () =>
      (finishing ??= new Promise((resolve, reject) => {
        // The file may have failed to open (EEXIST) after the whole download arrived: that is still a failure.
        if (out.errored !== null) {
          reject(out.errored);
          return;
        }
        out.once('error', reject);
        out.end((err?: Error | null) => (err ? reject(err) : resolve()));
      })),
    discard: () => {
      out.destroy();
      // Only a file this download created: an existing one (EEXIST) is the user's.
      if (!created) return;
      try {
        unlinkSync(path);
      } catch {
        // Already gone.
      }
    },
    broken,
  };
}

function stdoutDestination(io: CliIo): Destination {
  const out = io.stdout as NodeJS.WritableStream & { isTTY?: boolean };
  if (out.isTTY === true) throw new CliError('refusing to write a pcap to a terminal: pipe it, or use -o FILE');
  const broken = new Promise<Error>((resolve) => out.once('error', resolve));
  let written = 0;
  return {
    write: (chunk) => {
      written += chunk.length;
      return out.write(chunk);
    },
    once: (event, listener) => out.once(event, listener),
    get written() {
      return written;
    },
    finish: () => Promise.resolve(),
    discard: () => undefined,
    broken,
  };
}

/** Streams one recording into `dest`; resolves when the server ends the stream (with --follow: when it stops). */
export async function runDownload(
  conn: HubbleConnection,
  request: DownloadRequest,
  dest: Destination,
  io: CliIo,
): Promise<void> {
  const call = conn.recordings().download(request);
  const stop = (): void => void call.cancel();
  io.signal?.addEventListener('abort', stop);
  if (io.signal === undefined) process.once('SIGINT', stop);
  try {
    await new Promise<void>((resolve, reject) => {
      // A reader that went away (wireshark closed, `| head`) ends the download quietly.
      void dest.broken.then((err) => {
        if ((err as NodeJS.ErrnoException).code === 'EPIPE') {
          call.cancel();
          resolve();
        } else {
          call.cancel();
          reject(new CliError(`cannot write the download: ${err.message}`));
        }
      });
      call.on('data', (res: DownloadResponse) => {
        if (!dest.write(res.data)) {
          call.pause();
          dest.once('drain', () => call.resume());
        }
      });
      call.on('error', (err: Error) => {
        // Only we cancel: Ctrl-C, or the reader went away.
        if (isServiceError(err) && err.code === grpc.status.CANCELLED) {
          resolve();
          return;
        }
        reject(new CliError(describeStoreError(err, conn.server, 'Download')));
      });
      call.on('end', () => resolve());
    });
    await dest.finish();
  } catch (err) {
    dest.discard();
    throw err;
  } finally {
    io.signal?.removeEventListener('abort', stop);
    process.removeListener('SIGINT', stop);
  }
}

// The page's recordings: start one (a Record stream this server holds open, as `hubble record` holds one), stop it,
// list the store with live statistics, download a file, delete one. A recording started here outlives the page that
// started it, so the page must give it a limit; it stops at that limit, when stopped here, or when the node stops.
import type { ServerResponse } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import type { Timestamp } from '../api/google/protobuf/timestamp.js';
import { Protocol, StartRecording, type RecordRequest, type RecordResponse } from '../api/recorder/recorder.js';
import { RECORDING_NAME_METADATA } from '../recorder/fileNames.js';
import type { RecorderBackend } from './backend.js';
import { fromGrpc, HttpError } from './httpError.js';
import type { RecordingFilterForm, RecordingInfo, RecordingStats, StartRecordingForm } from './wire.js';

/** More 5-tuples than this in one recording is not something a person types. */
const MAX_FILTERS = 16;
const MAX_TEXT = 64;
const MAX_UINT32 = 0xffff_ffff;
/** How long a stop waits for the recording's final statistics, and a start for the Recorder to create the file. */
const STOP_TIMEOUT_MS = 15_000;
const START_TIMEOUT_MS = 15_000;

const PROTOCOLS: Readonly<Record<RecordingFilterForm['protocol'], Protocol>> = {
  ANY: Protocol.PROTOCOL_ANY,
  TCP: Protocol.PROTOCOL_TCP,
  UDP: Protocol.PROTOCOL_UDP,
  SCTP: Protocol.PROTOCOL_SCTP,
};

function bad(message: string): HttpError {
  return new HttpError(400, message);
}

function count(value: unknown, field: string, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined || value === null || value === '') return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw bad(`${field}: give a whole number from 0 to ${max}`);
  }
  return value;
}

function text(value: unknown, field: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string' || value.length > MAX_TEXT) throw bad(`${field}: give at most ${MAX_TEXT} characters`);
  return value.trim();
}

/** Checks the form's shape (the Recorder checks the rest: CIDRs, the prefix) and builds the StartRecording. */
export function startRequestOf(body: unknown): StartRecording {
  if (typeof body !== 'object' || body === null) throw bad('expected a JSON object describing the recording');
  const form = body as Partial<Record<keyof StartRecordingForm, unknown>>;
  if (!Array.isArray(form.filters) || form.filters.length === 0) {
    throw bad('give at least one filter (source and destination CIDR; 0.0.0.0/0 matches any IPv4 address)');
  }
  if (form.filters.length > MAX_FILTERS) throw bad(`give at most ${MAX_FILTERS} filters`);
  const include = form.filters.map((raw: unknown, i) => {
    const f = (typeof raw === 'object' && raw !== null ? raw : {}) as Partial<
      Record<keyof RecordingFilterForm, unknown>
    >;
    const at = `filter ${i + 1}`;
    const protocol = PROTOCOLS[(f.protocol ?? 'ANY') as RecordingFilterForm['protocol']];
    if (protocol === undefined) throw bad(`${at}: protocol is one of ANY, TCP, UDP, SCTP`);
    const sourceCidr = text(f.sourceCidr, `${at}: source CIDR`);
    const destinationCidr = text(f.destinationCidr, `${at}: destination CIDR`);
    if (sourceCidr === '' || destinationCidr === '') {
      throw bad(`${at}: give both CIDRs (0.0.0.0/0 or ::/0 match any address)`);
    }
    return {
      sourceCidr,
      sourcePort: count(f.sourcePort, `${at}: source port`, 65535),
      destinationCidr,
      destinationPort: count(f.destinationPort, `${at}: destination port`, 65535),
      protocol,
    };
  });
  const packets = count(form.packets, 'packets');
  const bytes = count(form.bytes, 'bytes');
  const durationSeconds = count(form.durationSeconds, 'duration (seconds)', 2_147_483);
  if (packets === 0 && bytes === 0 && durationSeconds === 0) {
    throw bad(
      'give a limit (packets, bytes or a duration): a recording started here keeps running after the page closes',
    );
  }
  return StartRecording.fromPartial({
    filesink: { filePrefix: text(form.filePrefix, 'file prefix') },
    include,
    maxCaptureLength: count(form.maxCaptureLength, 'max capture length', MAX_UINT32),
    stopCondition: {
      packetsCapturedCount: packets,
      bytesCapturedCount: bytes,
      timeElapsed: durationSeconds > 0 ? { seconds: durationSeconds, nanos: 0 } : undefined,
    },
  });
}

function rfc3339(ts: Timestamp | undefined): string {
  if (ts === undefined) return '';
  return new Date(ts.seconds * 1000 + Math.floor(ts.nanos / 1e6)).toISOString();
}

/** A recording this server started and holds the Record stream of. */
interface HeldRecording {
  call: grpc.ClientDuplexStream<RecordRequest, RecordResponse>;
  /** Resolves with the final statistics when the stream ends (stopped, at a limit, or failed). */
  ended: Promise<RecordingStats | undefined>;
}

export class UiRecordings {
  private readonly held = new Map<string, HeldRecording>();

  constructor(private readonly backend: RecorderBackend) {}

  /** Starts a recording; resolves with its name once the Recorder has created the file. */
  start(body: unknown): Promise<{ name: string }> {
    const start = startRequestOf(body);
    const call = this.backend.record();
    return new Promise((resolve, reject) => {
      let name: string | undefined;
      let started = false;
      let last: RecordingStats | undefined;
      let resolveEnded!: (stats: RecordingStats | undefined) => void;
      const ended = new Promise<RecordingStats | undefined>((r) => (resolveEnded = r));
      const finish = () => {
        clearTimeout(timer);
        if (name !== undefined) this.held.delete(name);
        resolveEnded(last);
      };
      // A file system that hangs must not hang the page's request: give up, and the stream with it.
      const timer = setTimeout(() => {
        if (started) return;
        call.cancel();
        reject(new HttpError(504, `the Recorder did not start the recording within ${START_TIMEOUT_MS / 1000} s`));
      }, START_TIMEOUT_MS);
      call.on('metadata', (md: grpc.Metadata) => {
        const value = md.get(RECORDING_NAME_METADATA)[0];
        if (typeof value === 'string') name = value;
      });
      call.on('data', (res: RecordResponse) => {
        const stats = res.running?.stats ?? res.stopped?.stats;
        if (stats !== undefined) last = { ...stats };
        if (!started && res.running !== undefined) {
          started = true;
          clearTimeout(timer);
          if (name === undefined) {
            call.cancel();
            reject(new HttpError(502, 'the Recorder did not say which file it writes'));
            return;
          }
          this.held.set(name, { call, ended });
          resolve({ name });
        }
        if (res.stopped !== undefined) call.end();
      });
      call.on('error', (err: grpc.ServiceError) => {
        if (!started) reject(fromGrpc(err, 'starting the recording'));
        finish();
      });
      call.on('end', finish);
      call.write({ start });
    });
  }

  /** Stops a recording this server started; resolves with its final statistics. */
  async stop(name: string): Promise<RecordingStats | undefined> {
    const held = this.held.get(name);
    if (held === undefined) {
      const known = (await this.list()).find((r) => r.name === name);
      if (known === undefined) throw new HttpError(404, `recording "${name}": no such recording`);
      if (!known.running) throw new HttpError(409, `recording "${name}" has already stopped`);
      throw new HttpError(
        409,
        `recording "${name}" was started elsewhere (hubble record): stop it there, or delete it here to stop it`,
      );
    }
    held.call.write({ stop: {} });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new HttpError(504, `recording "${name}" did not stop within ${STOP_TIMEOUT_MS / 1000} s`)),
        STOP_TIMEOUT_MS,
      );
    });
    try {
      return await Promise.race([held.ended, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async list(): Promise<RecordingInfo[]> {
    let answer;
    try {
      answer = await this.backend.list();
    } catch (err) {
      throw fromGrpc(err, 'listing recordings');
    }
    return answer.recordings.map((r) => ({
      name: r.name,
      size: r.size,
      created: rfc3339(r.created),
      modified: rfc3339(r.modified),
      stats: r.stats && { ...r.stats },
      running: r.running,
      nodeName: r.nodeName,
      filePath: r.filePath,
      stoppable: r.running && this.held.has(r.name),
    }));
  }

  async delete(name: string): Promise<{ stopped: boolean }> {
    try {
      return await this.backend.delete(name, true);
    } catch (err) {
      throw fromGrpc(err, `deleting recording "${name}"`);
    }
  }

  /** Sends the file as an attachment; a missing one is a 404 before any byte is sent. */
  download(name: string, res: ServerResponse): Promise<void> {
    const call = this.backend.download(name);
    return new Promise((resolve, reject) => {
      let headersSent = false;
      // grpc-js emits 'end' after 'error' too: once failed, the end must not answer 200.
      let failed = false;
      const sendHeaders = () => {
        if (headersSent) return;
        headersSent = true;
        res.writeHead(200, {
          'content-type': 'application/vnd.tcpdump.pcap',
          'content-disposition': `attachment; filename="${name.replace(/[^A-Za-z0-9_.-]/g, '_')}"`,
          'cache-control': 'no-store',
        });
      };
      call.on('data', (chunk: { data: Uint8Array }) => {
        sendHeaders();
        if (!res.write(chunk.data)) {
          call.pause();
          res.once('drain', () => call.resume());
        }
      });
      call.on('end', () => {
        if (failed) return;
        sendHeaders();
        res.end();
        resolve();
      });
      call.on('error', (err: grpc.ServiceError) => {
        failed = true;
        if (!headersSent) reject(fromGrpc(err, `downloading recording "${name}"`));
        else {
          res.destroy(err);
          resolve();
        }
      });
      res.on('close', () => call.cancel());
    });
  }

  /** Ends every Record stream this server holds (each recording stops and keeps its file). */
  close(): void {
    for (const held of this.held.values()) held.call.cancel();
    this.held.clear();
  }
}

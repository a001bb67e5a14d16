// Names of recording files: `<prefix>_<unix seconds>_<random>_<node>.pcap` as Hubble writes them, and the one
// pattern the recordings store accepts, so a name from a client can never step outside the recordings directory.
import { randomBytes } from 'node:crypto';
import type { FilePrefix } from './startRequest.js';

/** Response header naming the recording a Record stream writes, as the recordings store names it (our addition). */
export const RECORDING_NAME_METADATA = 'hubblets-recording-name';

/** Characters Hubble keeps in a file name; every other one becomes '_'. */
const DISALLOWED = /[^a-zA-Z0-9_.-]/g;

/** What the store lists and serves: prefix, start second, random number, sanitized node name; nothing else. */
const RECORDING_NAME = /^([a-z][a-z0-9]{0,19})_(\d{1,20})_(\d{1,10})_([a-zA-Z0-9_.-]*)\.pcap$/;
/** NAME_MAX on Linux file systems. */
const MAX_NAME_BYTES = 255;

export function sanitizeFileName(name: string): string {
  return name.replace(DISALLOWED, '_');
}

/** A fresh file name for a recording starting at `nowMs`. */
export function recordingFileName(
  prefix: FilePrefix,
  nodeName: string,
  nowMs: number,
  random = randomBytes(4).readUInt32BE(0),
): string {
  const name = sanitizeFileName(`${prefix}_${Math.floor(nowMs / 1000)}_${random}_${nodeName}.pcap`);
  // A very long node name is cut, keeping the name unique (time, random) and the .pcap suffix.
  return name.length <= MAX_NAME_BYTES ? name : `${name.slice(0, MAX_NAME_BYTES - 5)}.pcap`;
}

export interface RecordingName {
  prefix: string;
  /** Unix seconds when the recording started. */
  startedAtSeconds: number;
  nodeName: string;
}

/** The parts of a recording's file name, or undefined for any name the recorder would not have written. */
export function parseRecordingName(name: string): RecordingName | undefined {
  if (name.length > MAX_NAME_BYTES) return undefined;
  const m = RECORDING_NAME.exec(name);
  if (m === null) return undefined;
  return { prefix: m[1]!, startedAtSeconds: Number(m[2]), nodeName: m[4]! };
}

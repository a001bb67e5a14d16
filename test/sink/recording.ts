// Test helpers for recordings: filters in `hubble record`'s words, sink options, events built the way capture sources
// build them, a small tmpfs to fill up, and tshark/capinfos as the judge of the files the sinks leave.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MonitorEvent } from '../../src/monitor/types.js';
import { parseRecordFilters } from '../../src/cli/record.js';
import { parseRecorderFilter } from '../../src/recorder/startRequest.js';
import type { RecordingFilter, SinkOptions } from '../../src/sink/types.js';
import { FrameEventBuilder } from '../../src/source/frameEvent.js';
import { Direction, LinkType } from '../../src/source/linkTypes.js';
import { tsharkFields } from '../harness/tshark.js';

const run = promisify(execFile);

/** "10.0.0.0/8 0 0.0.0.0/0 80 TCP", as `hubble record` takes a filter, through the CLI's and the recorder's parsers. */
export function recordingFilter(text: string): RecordingFilter {
  return parseRecorderFilter(parseRecordFilters([text])[0]!);
}

let nextRuleId = 1;

/** Options for a recording into `dir`; a fresh rule id and file name unless given. */
export function sinkOptions(dir: string, filters: string[], overrides: Partial<SinkOptions> = {}): SinkOptions {
  const ruleId = overrides.ruleId ?? (nextRuleId++ % 65534) + 1;
  return {
    ruleId,
    filters: filters.map(recordingFilter),
    maxCaptureLength: 0,
    stop: { packets: 0, bytes: 0, durationMs: 0 },
    path: join(dir, `rule-${ruleId}-${Math.random().toString(36).slice(2)}.pcap`),
    queueSize: 1024,
    ...overrides,
  };
}

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `hubble-ts-sink-${tag}-`));
}

const events = new FrameEventBuilder('test-node');

/** The event a capture source publishes for an Ethernet `frame` captured at seconds.nanos (origLen: wire length). */
export function frameEvent(
  frame: Uint8Array,
  seconds = 1_700_000_000,
  nanos = 0,
  origLen = frame.length,
): MonitorEvent {
  const event = events.build(frame, 0, frame.length, origLen, LinkType.ETHERNET, Direction.OUTBOUND, 1, seconds, nanos);
  if (event === undefined) throw new Error('frame could not be turned into an event');
  return event;
}

/** A perf event around a datapath message (drop, policy verdict, debug capture, recorder capture, trace). */
export function perfEvent(data: Uint8Array, seconds = 1_700_000_000, nanos = 0): MonitorEvent {
  return { timestamp: { seconds, nanos }, nodeName: 'test-node', payload: { kind: 'perf', cpu: 0, data } };
}

/** Mounts a tmpfs of `size` (e.g. "64k") on a new directory for `body`, unmounting whatever happens. */
export async function withTmpfs<T>(size: string, body: (dir: string) => Promise<T>): Promise<T> {
  const dir = tempDir('tmpfs');
  const mountPoint = join(dir, 'mnt');
  mkdirSync(mountPoint);
  await run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mountPoint]);
  try {
    return await body(mountPoint);
  } finally {
    await run('umount', ['-l', mountPoint]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface PcapVerdict {
  packets: number;
  /** Per frame: captured and wire length, as tshark reads them. */
  capLens: number[];
  lens: number[];
  /** Seconds.nanoseconds of each frame. */
  times: string[];
}

/**
 * How many packets capinfos counts in a pcap the sinks wrote; throws when it finds the file damaged (cut short in a
 * record, bad header) or its link type is not Ethernet. Fast (no dissection): for files only counted.
 */
export async function validPcap(path: string): Promise<number> {
  // capinfos exits non-zero (and says why on stderr) for a file cut short or with a bad header.
  const { stdout } = await run('capinfos', ['-M', '-E', '-c', '-T', '-r', path]);
  const [, encapsulation, packets] = stdout.trim().split('\t');
  if (encapsulation !== 'ether') throw new Error(`${path}: encapsulation ${encapsulation}, not Ethernet`);
  return Number(packets);
}

/** capinfos's verdict (see validPcap), then tshark's reading of every frame's lengths and time. */
export async function judgePcap(path: string): Promise<PcapVerdict> {
  const packets = await validPcap(path);
  const rows = await tsharkFields(path, ['frame.cap_len', 'frame.len', 'frame.time_epoch']);
  if (rows.length !== packets) throw new Error(`${path}: capinfos counts ${packets} packets, tshark ${rows.length}`);
  return {
    packets,
    capLens: rows.map((r) => Number(r[0])),
    lens: rows.map((r) => Number(r[1])),
    times: rows.map((r) => r[2]!),
  };
}

/** Frame numbers (1-based) of `path` that a tshark display filter selects. */
export async function tsharkSelects(path: string, displayFilter: string): Promise<number[]> {
  const rows = await tsharkFields(path, ['frame.number'], { displayFilter });
  return rows.map((r) => Number(r[0]));
}

// How the file source drives a capture format's reader: it hands over buffered bytes, the reader publishes the
// frames of every complete record in them and says where it stopped and how much the next record needs.

import type { MonitorEvent } from '../monitor/types.js';
import type { FrameEventBuilder } from './frameEvent.js';
import type { LinkRegistry } from './source.js';

/** What a reader publishes into and reports against. */
export interface ReplayTarget {
  /** The file, for error messages. */
  readonly path: string;
  readonly builder: FrameEventBuilder;
  /** Told the names of the interfaces a file describes (pcapng), under the index their events carry. */
  readonly links: LinkRegistry | undefined;
  readonly publish: (event: MonitorEvent) => void;
  /** Awaited between chunks when it returns a promise: consumers still writing what was published. */
  readonly backlog: (() => Promise<void> | undefined) | undefined;
  /** Set when the caller's signal aborts (a plain field: readers look at it after every publish). */
  readonly abort: { aborted: boolean };
}

export interface CaptureReader {
  /**
   * Publishes the frames of every complete record in buf[pos, end), where buf[0] is the file's byte `base`, and
   * returns the offset in buf of the first record not processed. Returns early, right after a publish, when the
   * run was aborted. Throws SourceError (CORRUPT, UNSUPPORTED_FORMAT) on damage.
   */
  consume(buf: Uint8Array, view: DataView, pos: number, end: number, base: number): number;
  /** Bytes the record at the position consume() returned needs in the buffer before it can be processed. */
  readonly needed: number;
  /** The file ended with `remaining` unprocessed bytes at file offset `offset`; throws TRUNCATED when there are any. */
  finish(offset: number, remaining: number): void;
}

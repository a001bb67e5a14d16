// How the file source drives a capture format's reader: it hands over buffered bytes, the reader publishes the
// frames of every complete record in them and says where it stopped and how much the next record needs.

import type { FrameEventBuilder } from './frameEvent.js';
import type { LinkRegistry, PublishTarget } from './source.js';

/** What a reader publishes into and reports against. */
export interface ReplayTarget {
  /** The file, for error messages. */
  readonly path: string;
  readonly builder: FrameEventBuilder;
  /** Told the names of the interfaces a file describes (pcapng), under the index their events carry. */
  readonly links: LinkRegistry | undefined;
  /** Where frames go, through builder.publish(). */
  readonly to: PublishTarget;
  /** Awaited between chunks when it returns a promise: consumers still writing what was published. */
  readonly backlog: (() => Promise<void> | undefined) | undefined;
  /** Plain fields the readers look at after every publish (see ReplayState). */
  readonly state: ReplayState;
}

export interface ReplayState {
  /** The caller's signal aborted. */
  aborted: boolean;
  /**
   * A publish returned true and there is a backlog to wait for: the reader stops right after that publish, and the
   * replay waits for the backlog before it hands the rest over.
   */
  waiting: boolean;
}

export interface CaptureReader {
  /**
   * Publishes the frames of every complete record in buf[pos, end), where buf[0] is the file's byte `base`, and
   * returns the offset in buf of the first record not processed. Returns early, right after a publish, when the
   * run was aborted or the publish asked to wait (state.waiting). Throws SourceError (CORRUPT, UNSUPPORTED_FORMAT) on damage.
   */
  consume(buf: Uint8Array, view: DataView, pos: number, end: number, base: number): number;
  /** Bytes the record at the position consume() returned needs in the buffer before it can be processed. */
  readonly needed: number;
  /** The file ended with `remaining` unprocessed bytes at file offset `offset`; throws TRUNCATED when there are any. */
  finish(offset: number, remaining: number): void;
}

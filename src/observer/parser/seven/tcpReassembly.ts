// One direction of a TCP connection put back in order: payload bytes are handed to a receiver exactly once, in
// sequence order, whatever order the capture saw the segments in and however often they were retransmitted. Segments
// ahead of the next expected byte are copied and held; bytes behind it are dropped as already seen. The stream itself
// never gives up on a hole: its owner bounds what it holds and calls skipToHeld() when it has waited long enough.
//
// Sequence numbers are uint32 and wrap: positions are compared by their signed 32-bit difference, which holds as long
// as everything in flight lies within 2^31 bytes of the next expected one (TCP's own window is at most 2^30).

/** One TCP segment, filled by the caller in a reused object (no allocation per packet on the caller's side). */
export interface TcpSegment {
  /** Same for both directions of a connection (the caller builds it from the two address:port pairs in canonical order). */
  connectionKey: string;
  /** Which direction this segment travels: true when sent by the side that sorts first in the key. */
  fromFirst: boolean;
  /** TCP sequence number (uint32). */
  sequence: number;
  /**
   * TCP acknowledgement number (uint32), read when flags has ACK: where the other direction's next byte is, so the
   * answer to the request that starts tracking a connection is found even if its first segment arrives late.
   */
  acknowledgement: number;
  /** TcpFlag bits as in src/packet/protocols.ts. */
  flags: number;
  /** The captured frame. */
  bytes: Uint8Array;
  /** TCP payload is bytes[payloadStart, payloadEnd). */
  payloadStart: number;
  payloadEnd: number;
  /** Capture time of the packet in nanoseconds, from any fixed origin (only differences are used). */
  timeNs: number;
  destinationPort: number;
  sourcePort: number;
}

/**
 * What holding one out-of-order segment costs beyond its payload (its record, its copy's object and buffer: about
 * 270 bytes measured), counted with its bytes in heldBytes and the owner's budget, so that a flood of one-byte
 * segments is bounded by the memory it takes, not by its payload.
 */
export const HELD_SEGMENT_OVERHEAD = 256;

/** Bytes held by every stream of one owner (each held segment counting HELD_SEGMENT_OVERHEAD more), so the owner can bound them all together. */
export interface BufferBudget {
  bufferedBytes: number;
}

/** Where in-order bytes go. Returns false to stop delivery (the owner gave up the connection meanwhile). */
export interface StreamReceiver<S extends ByteStream> {
  receive(stream: S, data: Uint8Array, from: number, to: number, timeNs: number): boolean;
}

interface HeldSegment {
  sequence: number;
  data: Uint8Array;
  timeNs: number;
}

/** Signed distance from b to a in sequence space. */
export function sequenceDistance(a: number, b: number): number {
  return (a - b) | 0;
}

export const Accepted = {
  /** Every byte had been seen before. */
  DUPLICATE: 0,
  /** Some bytes went to the receiver (and held ones that became contiguous after them). */
  DELIVERED: 1,
  /** Ahead of the next expected byte: copied and held. */
  HELD: 2,
  /** The receiver stopped delivery. */
  STOPPED: 3,
} as const;
export type Accepted = (typeof Accepted)[keyof typeof Accepted];

export class ByteStream {
  /** Whether `next` is known (from a SYN, the peer's acknowledgement, or a first segment). */
  initialized = false;
  /** Sequence number of the next byte the receiver expects. */
  next = 0;
  /** Whether a FIN was seen, and the sequence number it takes. */
  finSeen = false;
  finSequence = 0;
  /** Held segments, in sequence order. */
  private held: HeldSegment[] | undefined;
  heldBytes = 0;
  /** Bytes dropped because they had been delivered already. */
  duplicateBytes = 0;

  constructor(private readonly budget: BufferBudget) {}

  start(sequence: number): void {
    this.initialized = true;
    this.next = sequence >>> 0;
  }

  get heldSegments(): number {
    return this.held?.length ?? 0;
  }

  /** Sequence number of the first held segment's first byte; undefined when nothing is held. */
  get firstHeldSequence(): number | undefined {
    return this.held?.[0]?.sequence;
  }

  /** Whether every byte before the FIN has been delivered. */
  get ended(): boolean {
    return this.finSeen && this.next === this.finSequence;
  }

  fin(sequence: number): void {
    this.finSeen = true;
    this.finSequence = sequence >>> 0;
  }

  /** Takes the payload data[from, to) that starts at `sequence`. */
  accept<S extends ByteStream>(
    this: S,
    data: Uint8Array,
    from: number,
    to: number,
    sequence: number,
    timeNs: number,
    receiver: StreamReceiver<S>,
  ): Accepted {
    const length = to - from;
    const ahead = sequenceDistance(sequence, this.next);
    if (ahead > 0) {
      this.hold(sequence >>> 0, data, from, to, timeNs);
      return Accepted.HELD;
    }
    if (ahead + length <= 0) {
      this.duplicateBytes += length;
      return Accepted.DUPLICATE;
    }
    this.duplicateBytes -= ahead;
    this.next = (this.next + length + ahead) >>> 0;
    if (!receiver.receive(this, data, from - ahead, to, timeNs)) return Accepted.STOPPED;
    return this.drain(receiver) ? Accepted.DELIVERED : Accepted.STOPPED;
  }

  /**
   * Gives up the hole before the first held segment: the next expected byte becomes that segment's first. Returns the
   * number of bytes skipped (0 when nothing is held). Call drain() afterwards.
   */
  skipToHeld(): number {
    const first = this.held?.[0];
    if (first === undefined) return 0;
    const skipped = sequenceDistance(first.sequence, this.next);
    if (skipped <= 0) return 0;
    this.next = first.sequence;
    return skipped;
  }

  /** Delivers held segments that have become contiguous. False when the receiver stopped delivery. */
  drain<S extends ByteStream>(this: S, receiver: StreamReceiver<S>): boolean {
    const held = this.held;
    if (held === undefined) return true;
    while (held.length > 0) {
      const first = held[0]!;
      const ahead = sequenceDistance(first.sequence, this.next);
      if (ahead > 0) break;
      held.shift();
      this.heldBytes -= first.data.length + HELD_SEGMENT_OVERHEAD;
      this.budget.bufferedBytes -= first.data.length + HELD_SEGMENT_OVERHEAD;
      const length = first.data.length;
      if (ahead + length <= 0) {
        this.duplicateBytes += length;
        continue;
      }
      this.duplicateBytes -= ahead;
      this.next = (this.next + length + ahead) >>> 0;
      if (!this.delivered(receiver, first, -ahead)) return false;
    }
    return true;
  }

  private delivered<S extends ByteStream>(this: S, receiver: StreamReceiver<S>, h: HeldSegment, skip: number): boolean {
    return receiver.receive(this, h.data, skip, h.data.length, h.timeNs);
  }

  /** Drops whatever is held (the owner frees the connection). */
  release(): void {
    this.budget.bufferedBytes -= this.heldBytes;
    this.heldBytes = 0;
    this.held = undefined;
  }

  private hold(sequence: number, frame: Uint8Array, from: number, to: number, timeNs: number): void {
    const length = to - from;
    const held = (this.held ??= []);
    const distance = sequenceDistance(sequence, this.next);
    let at = held.length;
    // Usually the newest segment goes last; walk back from the end.
    while (at > 0 && sequenceDistance(held[at - 1]!.sequence, this.next) > distance) at--;
    const before = held[at - 1];
    if (before !== undefined && before.sequence === sequence && before.data.length >= length) {
      this.duplicateBytes += length; // a retransmission of a segment already held
      return;
    }
    held.splice(at, 0, { sequence, data: frame.slice(from, to), timeNs });
    this.heldBytes += length + HELD_SEGMENT_OVERHEAD;
    this.budget.bufferedBytes += length + HELD_SEGMENT_OVERHEAD;
  }
}

// The one error sources throw, with a stable code and, for damaged files, where the damage is.

export type SourceErrorCode =
  /** The spec itself is malformed, or its BPF filter does not compile. */
  | 'BAD_SPEC'
  /** No such file or interface. */
  | 'NOT_FOUND'
  /** Not allowed to read the file or to capture on the interface. */
  | 'PERMISSION'
  /** The `cap` binding or libpcap itself cannot be loaded. */
  | 'NO_LIBPCAP'
  /** The file is neither pcap nor pcapng. */
  | 'NOT_A_CAPTURE'
  /** A pcap variant or version this reader does not handle (modified pcap, pcapng 2.x, ...). */
  | 'UNSUPPORTED_FORMAT'
  /** A header or block in the file holds values that cannot be right. */
  | 'CORRUPT'
  /** The file ends inside a header, block or record. */
  | 'TRUNCATED'
  /** Every frame is of a link type that cannot be turned into Ethernet. */
  | 'UNSUPPORTED_LINK_TYPE'
  /** Reading the file or the live capture failed for another reason (I/O error, libpcap error). */
  | 'CAPTURE_FAILED';

/** Where in a capture file an error was found. */
export interface SourceErrorPosition {
  /** Byte offset of the damaged header, block or record from the start of the file. */
  offset: number;
  /** 1-based number of the record (pcap) or block (pcapng) at that offset, as tshark numbers frames for pcap. */
  record: number;
}

export class SourceError extends Error {
  override readonly name = 'SourceError';
  readonly offset: number | undefined;
  readonly record: number | undefined;

  constructor(
    readonly code: SourceErrorCode,
    message: string,
    position?: SourceErrorPosition,
  ) {
    super(message);
    this.offset = position?.offset;
    this.record = position?.record;
  }
}

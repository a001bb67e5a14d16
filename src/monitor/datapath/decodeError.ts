// The one error every datapath message decoder throws, so callers catch a single type and branch on `code`.

export type DatapathDecodeErrorCode =
  /** Fewer bytes than the message kind (or its version) needs. */
  | 'SHORT_BUFFER'
  /** The first byte names a different message kind than the decoder handles. */
  | 'WRONG_MESSAGE_TYPE'
  /** A version byte this code does not know how to lay out. */
  | 'UNKNOWN_VERSION'
  /** A field holds a value the layout cannot carry (e.g. a length pointing past the end). */
  | 'INVALID_FIELD';

export class DatapathDecodeError extends Error {
  override readonly name = 'DatapathDecodeError';

  constructor(
    readonly code: DatapathDecodeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Throws SHORT_BUFFER unless `data` holds at least `need` bytes; `what` names the message for the text. */
export function requireLength(data: Uint8Array, need: number, what: string): void {
  if (data.length < need) {
    throw new DatapathDecodeError('SHORT_BUFFER', `${what}: need at least ${need} bytes, got ${data.length}`);
  }
}

/** Throws WRONG_MESSAGE_TYPE unless the first byte is `expected`. Call after a length check. */
export function requireMessageType(data: Uint8Array, expected: number, what: string): void {
  if (data[0] !== expected) {
    throw new DatapathDecodeError(
      'WRONG_MESSAGE_TYPE',
      `${what}: first byte is message type ${data[0]}, expected ${expected}`,
    );
  }
}

/** A DataView over exactly the bytes of `data`, wherever it sits in its ArrayBuffer. */
export function viewOf(data: Uint8Array): DataView {
  return new DataView(data.buffer, data.byteOffset, data.byteLength);
}

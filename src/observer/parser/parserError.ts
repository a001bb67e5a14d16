// The one error the parser throws for an event it cannot turn into a Hubble event; the Observer counts and skips it.

export type ParserErrorCode =
  /** The bytes are not a whole message of the kind their first byte names (too short, bad version, ...). */
  | 'INVALID_MESSAGE'
  /** A message type the parser does not decode (e.g. recorder captures, which only the recorder reads). */
  | 'UNKNOWN_MESSAGE_TYPE'
  /** The captured packet is empty or too damaged to yield even a link layer. */
  | 'INVALID_PACKET';

export class ParserError extends Error {
  override readonly name = 'ParserError';

  constructor(
    readonly code: ParserErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

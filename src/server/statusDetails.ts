// A status message as a gRPC answer carries it: bounded. A message may quote what the client sent (a filter, a
// prefix, a name), and a grpc-message header over 16 KiB makes gRPC C-core clients (Python, C++, ...) report
// RESOURCE_EXHAUSTED instead of the status and reason sent.

/** Characters of a status message kept; the rest is cut, saying how long it was. */
export const STATUS_DETAILS_MAX = 1024;

export function boundedDetails(message: string): string {
  if (message.length <= STATUS_DETAILS_MAX) return message;
  return `${message.slice(0, STATUS_DETAILS_MAX - 64)}… (the rest of this ${message.length}-character message is cut)`;
}

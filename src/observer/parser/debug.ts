// Turns a datapath debug message (perf event) into Hubble's flow.DebugEvent, with the monitor's text for it.

import { DebugEvent, type Endpoint } from '../../api/flow/flow.js';
import { decodeDebugMsg, debugMessageText, type LinkNameLookup } from '../../monitor/datapath/debugMsg.js';

export interface DebugParserLookups {
  /** What is known about a local endpoint by its id; undefined when nothing is. */
  endpointById?: (id: number) => Partial<Endpoint> | undefined;
  /** Interface name by index, used in the message text of some debug types. */
  linkName?: LinkNameLookup;
}

/**
 * Decodes a debug message into a DebugEvent. Throws DatapathDecodeError (from the monitor codec) when the bytes are
 * not a whole debug message; the caller decides how to count that.
 */
export function decodeDebugEvent(data: Uint8Array, cpu: number, lookups: DebugParserLookups = {}): DebugEvent {
  const msg = decodeDebugMsg(data);
  let source: Endpoint | undefined;
  if (msg.source !== 0) {
    const known = lookups.endpointById?.(msg.source);
    // The id in the message is authoritative; lookups only add to it.
    source = DebugEvent.fromPartial({ source: { ...known, ID: msg.source } }).source;
  }
  return {
    // flow.DebugEventType numbers are the datapath's, so the subtype goes through as-is, known or not.
    type: msg.subType,
    source,
    hash: msg.hash,
    arg1: msg.arg1,
    arg2: msg.arg2,
    arg3: msg.arg3,
    message: debugMessageText(msg, lookups.linkName),
    cpu,
  };
}

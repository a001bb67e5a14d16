// Building and naming LostEvents, the notice that some events never reached a reader.

import { LostEventSource, type MonitorEvent, type Timestamp } from './types.js';

const lostEventSourceNames: readonly string[] = [
  'UNKNOWN_LOST_EVENT_SOURCE',
  'PERF_EVENT_RING_BUFFER',
  'OBSERVER_EVENTS_QUEUE',
  'HUBBLE_RING_BUFFER',
];

/** flow.LostEventSource name for a source number. */
export function lostEventSourceName(source: number): string {
  return lostEventSourceNames[source] ?? String(source);
}

/** A MonitorEvent saying `numLost` events were lost at `source` (on `cpu`, where the source is per-CPU). */
export function lostMonitorEvent(
  source: LostEventSource,
  numLost: number,
  at: Timestamp,
  nodeName: string,
  cpu = 0,
): MonitorEvent {
  if (!Number.isInteger(numLost) || numLost < 0)
    throw new RangeError(`numLost must be a non-negative integer, got ${numLost}`);
  return { timestamp: at, nodeName, payload: { kind: 'lost', source, numLost, cpu } };
}

export { LostEventSource };

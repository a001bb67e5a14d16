// The event model between sources and consumers: what a node's monitor emits, before any parsing.

/** Wall-clock time of an event, shaped like google.protobuf.Timestamp so a Flow can share it. */
export interface Timestamp {
  seconds: number;
  nanos: number;
}

/** A Cilium datapath message: the first byte of `data` is its message type (see datapath/messageType). */
export interface PerfEvent {
  readonly kind: 'perf';
  cpu: number;
  data: Uint8Array;
}

/** An agent notification: `type` is an AgentNotification number, `message` its JSON text as Cilium writes it. */
export interface AgentEvent {
  readonly kind: 'agent';
  type: number;
  message: string;
}

/** Where events were lost; numbers as flow.LostEventSource. */
export const LostEventSource = {
  UNKNOWN: 0,
  PERF_EVENT_RING_BUFFER: 1,
  OBSERVER_EVENTS_QUEUE: 2,
  HUBBLE_RING_BUFFER: 3,
} as const;
export type LostEventSource = (typeof LostEventSource)[keyof typeof LostEventSource];

/** Events dropped before anyone could read them. */
export interface LostEvent {
  readonly kind: 'lost';
  source: LostEventSource;
  numLost: number;
  cpu: number;
}

export type MonitorPayload = PerfEvent | AgentEvent | LostEvent;

export interface MonitorEvent {
  /** When the event happened (capture time for packets), never when it was parsed. */
  timestamp: Timestamp;
  nodeName: string;
  payload: MonitorPayload;
}

/** Receives every event the monitor agent sees, synchronously and in order. Must not block. */
export interface MonitorConsumer {
  onMonitorEvent(event: MonitorEvent): void;
  /**
   * For consumers that finish work later (a sink writing a file): a promise while they still have work queued, that
   * resolves when it is done; undefined when nothing is queued. Sources that can wait (a file replay, which is not
   * real time) ask before publishing more, so a replay never outruns them; a live capture cannot wait and does not ask.
   */
  backlog?(): Promise<void> | undefined;
}

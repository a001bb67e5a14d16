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

/**
 * A captured frame, already Ethernet, as a capture source holds it before wrapping it as a MonitorEvent: the frame
 * is bytes[start, start + capLen), origLen bytes long on the wire, captured at seconds.nanos. Sources reuse one
 * object for every frame and the bytes are theirs: both are valid only during the call that hands them over.
 */
export interface CapturedFrame {
  readonly bytes: Uint8Array;
  readonly start: number;
  readonly capLen: number;
  readonly origLen: number;
  readonly seconds: number;
  readonly nanos: number;
  /** Where it was seen, as its TraceNotify says: TraceObservationPoint TO_NETWORK (sent) or FROM_NETWORK. */
  readonly observationPoint: number;
  /** The interface it was captured on (0: unknown). */
  readonly ifindex: number;
  /** The node its event is from. */
  readonly nodeName: string;
  /** The frame as the MonitorEvent every other consumer sees (a TraceNotify); built on the first call, then kept. */
  event(): MonitorEvent;
}

/** Receives every event the monitor agent sees, synchronously and in order. Must not block. */
export interface MonitorConsumer {
  /**
   * Returns true to ask a source that can wait (a file replay) to wait for backlog() before it publishes more: this
   * consumer's queue is filling up. Anything else (usually nothing) carries on; live sources cannot wait.
   */
  onMonitorEvent(event: MonitorEvent): unknown;
  /**
   * For consumers that need only the frame's bytes (the recordings): captured frames come here instead of through
   * onMonitorEvent, so that no event has to be built for them. Returns as onMonitorEvent does.
   */
  onCapturedFrame?(frame: CapturedFrame): unknown;
  /**
   * For consumers that finish work later (a sink writing a file): a promise while they still have work queued, that
   * resolves when it is done; undefined when nothing is queued. Sources that can wait (a file replay, which is not
   * real time) ask before publishing more, so a replay never outruns them; a live capture cannot wait and does not ask.
   */
  backlog?(): Promise<void> | undefined;
}

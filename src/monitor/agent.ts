// Fans every monitor event out to synchronous consumers (in order, same tick) and to async listeners through
// bounded per-listener queues, so a slow listener loses events (and is told how many) instead of stalling sources.
// Capture sources may publish frames instead: consumers that take frames get them as they are, the others (and the
// listeners) the frame's event, built only when someone needs it.

import {
  LostEventSource,
  type CapturedFrame,
  type MonitorConsumer,
  type MonitorEvent,
  type Timestamp,
} from './types.js';

/** A raw-event reader that may be slow (e.g. a socket client). */
export interface MonitorListener {
  /** Receives one event at a time; the next is delivered after the returned promise settles. */
  deliver(event: MonitorEvent): void | Promise<void>;
  /** Called once when the listener is removed, fails, or the agent closes. */
  close?(): void;
}

export interface MonitorListenerOptions {
  /** Events held for this listener while it is busy; beyond this they are dropped and counted. */
  queueSize?: number;
}

export interface MonitorListenerStats {
  delivered: number;
  /** Events dropped because this listener's queue was full. */
  lost: number;
  queued: number;
}

export interface MonitorListenerHandle {
  readonly stats: Readonly<MonitorListenerStats>;
  remove(): void;
}

export interface MonitorAgentOptions {
  /** Default per-listener queue size (Cilium's monitor uses 1024 for its listeners' channels too). */
  listenerQueueSize?: number;
  /** Told about a consumer or listener that threw; the agent carries on without it being able to stop others. */
  onError?: (error: unknown, where: 'consumer' | 'listener') => void;
}

export const DEFAULT_LISTENER_QUEUE_SIZE = 1024;

/**
 * A fixed-capacity FIFO for one listener. Each slot also carries how many events were dropped just before
 * it was queued, so the LostEvent notice lands exactly where the gap is in the listener's stream.
 */
class ListenerQueue implements MonitorListenerHandle {
  private readonly events: (MonitorEvent | undefined)[];
  private readonly lostBefore: Uint32Array;
  private head = 0;
  private size = 0;
  /** Dropped since the last event that made it into the queue. */
  private pendingLost = 0;
  private firstLostAt: Timestamp | undefined;
  private firstLostNode = '';
  private draining = false;
  private closed = false;
  readonly stats: MonitorListenerStats = { delivered: 0, lost: 0, queued: 0 };

  constructor(
    private readonly listener: MonitorListener,
    capacity: number,
    private readonly detach: (queue: ListenerQueue) => void,
    private readonly onError: (error: unknown) => void,
    private readonly onLost: () => void,
  ) {
    this.events = new Array<MonitorEvent | undefined>(capacity);
    this.lostBefore = new Uint32Array(capacity);
  }

  offer(event: MonitorEvent): void {
    if (this.closed) return;
    const capacity = this.events.length;
    if (this.size === capacity) {
      if (this.pendingLost === 0) {
        this.firstLostAt = event.timestamp;
        this.firstLostNode = event.nodeName;
      }
      this.pendingLost++;
      this.stats.lost++;
      this.onLost();
      return;
    }
    const tail = (this.head + this.size) % capacity;
    this.events[tail] = event;
    this.lostBefore[tail] = this.pendingLost;
    this.size++;
    this.stats.queued = this.size;
    if (this.pendingLost > 0) this.pendingLost = 0;
    if (!this.draining) void this.drain();
  }

  private lostNotice(numLost: number): MonitorEvent {
    return {
      timestamp: this.firstLostAt ?? { seconds: 0, nanos: 0 },
      nodeName: this.firstLostNode,
      // The queue in front of a reader of monitor events is the nearest Hubble has to name.
      payload: { kind: 'lost', source: LostEventSource.OBSERVER_EVENTS_QUEUE, numLost, cpu: 0 },
    };
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (!this.closed) {
        if (this.size > 0) {
          const slot = this.head;
          const event = this.events[slot]!;
          const lost = this.lostBefore[slot]!;
          this.events[slot] = undefined;
          this.head = (slot + 1) % this.events.length;
          this.size--;
          this.stats.queued = this.size;
          if (lost > 0) await this.listener.deliver(this.lostNotice(lost));
          if (this.closed) return;
          await this.listener.deliver(event);
          this.stats.delivered++;
        } else if (this.pendingLost > 0) {
          const lost = this.pendingLost;
          this.pendingLost = 0;
          await this.listener.deliver(this.lostNotice(lost));
        } else {
          return;
        }
      }
    } catch (error) {
      this.onError(error);
      this.remove();
    } finally {
      this.draining = false;
    }
  }

  remove(): void {
    if (this.closed) return;
    this.closed = true;
    this.events.fill(undefined);
    this.size = 0;
    this.stats.queued = 0;
    this.detach(this);
    this.listener.close?.();
  }
}

export class MonitorAgent {
  private consumers: MonitorConsumer[] = [];
  private listeners: ListenerQueue[] = [];
  private readonly listenerQueueSize: number;
  private readonly onError: (error: unknown, where: 'consumer' | 'listener') => void;
  private closed = false;
  /** Events listeners' full queues dropped, over every listener since the start (removed ones included). */
  listenerEventsLost = 0;

  constructor(options: MonitorAgentOptions = {}) {
    this.listenerQueueSize = checkQueueSize(options.listenerQueueSize ?? DEFAULT_LISTENER_QUEUE_SIZE);
    this.onError = options.onError ?? (() => undefined);
  }

  /** Adds a synchronous consumer; consumers see each event in registration order. Returns an unregister function. */
  register(consumer: MonitorConsumer): () => void {
    this.consumers = [...this.consumers, consumer];
    return () => {
      this.consumers = this.consumers.filter((c) => c !== consumer);
    };
  }

  /** Adds an async listener with its own bounded queue. */
  addListener(listener: MonitorListener, options: MonitorListenerOptions = {}): MonitorListenerHandle {
    if (this.closed) throw new Error('monitor agent is closed; no listeners can be added');
    const queue = new ListenerQueue(
      listener,
      checkQueueSize(options.queueSize ?? this.listenerQueueSize),
      (q) => {
        this.listeners = this.listeners.filter((l) => l !== q);
      },
      (error) => this.onError(error, 'listener'),
      () => this.listenerEventsLost++,
    );
    this.listeners = [...this.listeners, queue];
    return queue;
  }

  get listenerCount(): number {
    return this.listeners.length;
  }

  /**
   * What sources call for every event. Never blocks and never throws because of a consumer or listener. Returns true
   * when a consumer asks a source that can wait to wait for backlog() before publishing more.
   */
  publish(event: MonitorEvent): boolean {
    if (this.closed) return false;
    let wait = false;
    // Arrays are replaced, never mutated, so (un)registering during a publish cannot skip anyone.
    const consumers = this.consumers;
    for (let i = 0; i < consumers.length; i++) {
      try {
        if (consumers[i]!.onMonitorEvent(event) === true) wait = true;
      } catch (error) {
        this.onError(error, 'consumer');
      }
    }
    const listeners = this.listeners;
    for (let i = 0; i < listeners.length; i++) listeners[i]!.offer(event);
    return wait;
  }

  /**
   * What capture sources call for every Ethernet frame instead of publish(): consumers that take frames get the
   * frame, every other consumer and listener the frame's event, built only if one of them is there. Returns as
   * publish() does.
   */
  publishFrame(frame: CapturedFrame): boolean {
    if (this.closed) return false;
    let wait = false;
    const consumers = this.consumers;
    for (let i = 0; i < consumers.length; i++) {
      const consumer = consumers[i]!;
      try {
        const asked =
          consumer.onCapturedFrame !== undefined
            ? consumer.onCapturedFrame(frame)
            : consumer.onMonitorEvent(frame.event());
        if (asked === true) wait = true;
      } catch (error) {
        this.onError(error, 'consumer');
      }
    }
    const listeners = this.listeners;
    if (listeners.length > 0) {
      const event = frame.event();
      for (let i = 0; i < listeners.length; i++) listeners[i]!.offer(event);
    }
    return wait;
  }

  /** Resolves once no consumer has work queued; undefined when none has (see MonitorConsumer.backlog). */
  backlog(): Promise<void> | undefined {
    let waits: Promise<void>[] | undefined;
    for (const consumer of this.consumers) {
      const wait = consumer.backlog?.();
      if (wait !== undefined) (waits ??= []).push(wait);
    }
    return waits === undefined ? undefined : Promise.all(waits).then(() => undefined);
  }

  /** Stops delivery, drops whatever listeners still had queued and closes them. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const listener of this.listeners) listener.remove();
    this.listeners = [];
    this.consumers = [];
  }
}

function checkQueueSize(size: number): number {
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`listener queue size must be a positive integer, got ${size}`);
  return size;
}

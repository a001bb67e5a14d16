// The exporter in-process: what each kind of event becomes in the file (expectations written by hand from the proto3
// JSON mapping), the allow/deny lists and the field mask as upstream applies them, and what happens when the file is
// slow, blocked, or full.
import { pino, type Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  AgentEventType,
  DebugEventType,
  Flow,
  FlowType,
  IPVersion,
  LostEventSource,
  TraceObservationPoint,
  Verdict,
  type FlowFilter,
} from '../../src/api/flow/flow.js';
import { FlowExporter, type LineFile } from '../../src/exporter/exporter.js';
import { parseFlowFilterList } from '../../src/exporter/flowFilterList.js';
import type { LineBatch } from '../../src/exporter/rotatingFile.js';
import { Observer } from '../../src/observer/observer.js';
import type { DecodedEvent, Parser } from '../../src/observer/parser/index.js';

const TIME = { seconds: 1_700_000_000, nanos: 1000 }; // 2023-11-14T22:13:20.000001Z

function flowEvent(n: number, over: Partial<Flow> = {}): DecodedEvent {
  const flow = Flow.fromPartial({
    time: { seconds: TIME.seconds + n, nanos: TIME.nanos },
    uuid: `uuid-${n}`,
    verdict: Verdict.FORWARDED,
    IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: IPVersion.IPv4 },
    l4: { UDP: { sourcePort: 30_000 + n, destinationPort: 53 } },
    source: { identity: 2, labels: ['reserved:world'] },
    Type: FlowType.L3_L4,
    nodeName: 'node-1',
    eventType: { type: 4, subType: 0 },
    traceObservationPoint: TraceObservationPoint.FROM_NETWORK,
    Summary: 'UDP <dns> & more',
    ...over,
  });
  return { kind: 'flow', timestamp: flow.time!, nodeName: 'node-1', flow };
}

const agentEvent: DecodedEvent = {
  kind: 'agent',
  timestamp: { seconds: 1_700_000_100, nanos: 0 },
  nodeName: 'node-1',
  agentEvent: {
    type: AgentEventType.POLICY_UPDATED,
    policyUpdate: { labels: ['k8s:app=x'], revision: 7, ruleCount: 2 },
  },
};

const debugEvent: DecodedEvent = {
  kind: 'debug',
  timestamp: { seconds: 1_700_000_200, nanos: 120_000_000 },
  nodeName: 'node-1',
  debugEvent: {
    type: DebugEventType.DBG_GENERIC,
    source: undefined,
    hash: 12345,
    arg1: 1,
    arg2: undefined,
    arg3: undefined,
    message: 'x',
    cpu: 3,
  },
};

const lostEvent: DecodedEvent = {
  kind: 'lost',
  timestamp: { seconds: 1_700_000_300, nanos: 5 },
  nodeName: 'node-1',
  lostEvent: {
    source: LostEventSource.OBSERVER_EVENTS_QUEUE,
    numEventsLost: 7,
    cpu: 0,
    first: undefined,
    last: undefined,
  },
};

/** A file that keeps lines in memory; `gate` (when set) holds writes until it resolves, `fail` makes them fail. */
class MemoryFile implements LineFile {
  readonly lines: string[] = [];
  gate: Promise<void> | undefined;
  fail: NodeJS.ErrnoException | undefined;
  writes = 0;
  closed = false;

  async write(batch: LineBatch): Promise<void> {
    this.writes++;
    await this.gate;
    if (this.fail) throw this.fail;
    while (batch.written < batch.lines.length) this.lines.push(batch.lines[batch.written++]!.toString());
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
}

interface Logged {
  level: number;
  msg: string;
  [key: string]: unknown;
}

function capturingLogger(): { logger: Logger; logs: Logged[] } {
  const logs: Logged[] = [];
  return { logs, logger: pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line) as Logged) }) };
}

async function started(
  file: LineFile,
  opts: {
    allow?: FlowFilter[];
    deny?: FlowFilter[];
    fieldMask?: string[];
    queueSize?: number;
    retryIntervalMs?: number;
  } = {},
  logger: Logger = pino({ level: 'silent' }),
): Promise<FlowExporter> {
  const exporter = new FlowExporter(
    { filePath: '/test/events.log', allow: opts.allow ?? [], deny: opts.deny ?? [], fieldMask: opts.fieldMask ?? [] },
    async () => file,
    { logger, queueSize: opts.queueSize, retryIntervalMs: opts.retryIntervalMs },
  );
  await exporter.openAtStart();
  return exporter;
}

async function until(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('FlowExporter: what goes into the file', () => {
  it('writes every kind of event as one ExportEvent line, as upstream’s exporter does', async () => {
    const file = new MemoryFile();
    const exporter = await started(file);
    for (const e of [flowEvent(0), agentEvent, debugEvent, lostEvent]) exporter.onDecodedEvent(e);
    await exporter.close();
    expect(file.lines).toHaveLength(4);
    for (const line of file.lines) expect(line.endsWith('}\n') && !line.slice(0, -1).includes('\n')).toBe(true);
    const [flowLine, agentLine, debugLine, lostLine] = file.lines as [string, string, string, string];

    // Go's json.Encoder escapes <, > and & in the HTML-safe way; proto field names; top-level time last.
    expect(flowLine).toContain('"Summary":"UDP \\u003cdns\\u003e \\u0026 more"');
    expect(flowLine.endsWith(',"node_name":"node-1","time":"2023-11-14T22:13:20.000001Z"}\n')).toBe(true);
    expect(JSON.parse(flowLine)).toEqual({
      flow: {
        time: '2023-11-14T22:13:20.000001Z',
        uuid: 'uuid-0',
        verdict: 'FORWARDED',
        IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 'IPv4' },
        l4: { UDP: { source_port: 30000, destination_port: 53 } },
        source: { identity: 2, labels: ['reserved:world'] },
        Type: 'L3_L4',
        node_name: 'node-1',
        event_type: { type: 4 },
        trace_observation_point: 'FROM_NETWORK',
        Summary: 'UDP <dns> & more',
      },
      node_name: 'node-1',
      time: '2023-11-14T22:13:20.000001Z',
    });
    // Unset fields are left out, 64-bit integers are strings, wrappers are bare values.
    expect(JSON.parse(agentLine)).toEqual({
      agent_event: {
        type: 'POLICY_UPDATED',
        policy_update: { labels: ['k8s:app=x'], revision: '7', rule_count: '2' },
      },
      node_name: 'node-1',
      time: '2023-11-14T22:15:00Z',
    });
    expect(JSON.parse(debugLine)).toEqual({
      debug_event: { type: 'DBG_GENERIC', hash: 12345, arg1: 1, message: 'x', cpu: 3 },
      node_name: 'node-1',
      time: '2023-11-14T22:16:40.120Z',
    });
    expect(JSON.parse(lostLine)).toEqual({
      lost_events: { source: 'OBSERVER_EVENTS_QUEUE', num_events_lost: '7', cpu: 0 },
      node_name: 'node-1',
      time: '2023-11-14T22:18:20.000000005Z',
    });
  });

  it.each<[string, string, string, string[]]>([
    ['an allowlist selects flows only (other events carry no verdict)', '{"verdict":["DROPPED"]}', '', ['dropped']],
    [
      'an event_type allowlist selects agent events, and lost events as upstream',
      '{"event_type":[{"type":130}]}',
      '',
      ['agent', 'lost'],
    ],
    [
      'a denylist alone lets every other event through',
      '',
      '{"source_ip":["10.0.0.9"]}',
      ['forwarded', 'agent', 'debug', 'lost'],
    ],
    [
      'allow and deny together: any allow matches and no deny does',
      '{"source_ip":["10.0.0.1"]} {"source_ip":["10.0.0.9"]}',
      '{"verdict":["DROPPED"]}',
      ['forwarded'],
    ],
  ])('filters as Hubble’s filters.Apply: %s', async (_name, allow, deny, expected) => {
    const file = new MemoryFile();
    const exporter = await started(file, { allow: parseFlowFilterList(allow), deny: parseFlowFilterList(deny) });
    const events: [string, DecodedEvent][] = [
      ['forwarded', flowEvent(1)],
      [
        'dropped',
        flowEvent(2, { verdict: Verdict.DROPPED, IP: { source: '10.0.0.9', destination: '10.0.0.2' } as Flow['IP'] }),
      ],
      ['agent', agentEvent],
      ['debug', debugEvent],
      ['lost', lostEvent],
    ];
    for (const [, e] of events) exporter.onDecodedEvent(e);
    await exporter.close();
    const kinds = file.lines.map((l) => {
      const o = JSON.parse(l) as Record<string, any>;
      if (o['flow']) return o['flow'].verdict === 'DROPPED' ? 'dropped' : 'forwarded';
      return Object.keys(o)
        .find((k) => k.endsWith('_event') || k === 'lost_events')!
        .replace(/_events?$/, '');
    });
    expect(kinds).toEqual(expected);
  });

  it('masks flows, and takes time and node_name from the masked flow as upstream does', async () => {
    const file = new MemoryFile();
    const exporter = await started(file, { fieldMask: ['time', 'verdict', 'l4.UDP.destination_port'] });
    exporter.onDecodedEvent(flowEvent(0));
    exporter.onDecodedEvent(agentEvent); // the mask is for flows only
    await exporter.close();
    expect(JSON.parse(file.lines[0]!)).toEqual({
      flow: { time: '2023-11-14T22:13:20.000001Z', verdict: 'FORWARDED', l4: { UDP: { destination_port: 53 } } },
      time: '2023-11-14T22:13:20.000001Z',
    });
    expect(JSON.parse(file.lines[1]!)).toMatchObject({ agent_event: { type: 'POLICY_UPDATED' }, node_name: 'node-1' });
  });
});

describe('FlowExporter: never in the observer’s way', () => {
  /** An Observer with the exporter as its onDecodedEvent hook, and a "parser" that hands out the events fed to it. */
  function observerWith(exporter: FlowExporter): { observer: Observer; feed(e: DecodedEvent): void } {
    let next: DecodedEvent | undefined;
    const parser = { openL7: () => undefined, recordFlow: () => undefined, decode: () => next! } as unknown as Parser;
    const observer = new Observer({
      parser,
      ringCapacity: 65535,
      clusterName: 'default',
      hooks: { onDecodedEvent: [exporter.onDecodedEvent] },
    });
    return {
      observer,
      feed(e) {
        next = e;
        observer.onMonitorEvent({
          timestamp: e.timestamp,
          nodeName: e.nodeName,
          payload: { kind: 'agent', type: 0, message: '' },
        });
      },
    };
  }

  it('drops and counts what a blocked file cannot take, while every event still reaches the ring', async () => {
    const file = new MemoryFile();
    let release!: () => void;
    file.gate = new Promise((r) => (release = r));
    const { logger, logs } = capturingLogger();
    const exporter = await started(file, { queueSize: 1000 }, logger);
    const { observer, feed } = observerWith(exporter);

    const total = 20_000;
    const t0 = performance.now();
    for (let i = 0; i < total; i++) {
      feed(flowEvent(i));
      if (i === 10) await new Promise((r) => setImmediate(r)); // let the first batch reach the blocked write
    }
    const ingestMs = performance.now() - t0;

    expect(observer.ring.len).toBe(total); // the observer stored every event
    expect(file.writes).toBe(1); // one batch is stuck in the file
    expect(exporter.stats.queued).toBe(1000);
    const inFlight = 11; // the events taken into that first batch
    expect(exporter.stats.dropped).toBe(total - 1000 - inFlight);
    expect(logs.filter((l) => l.msg.includes('queue full'))).toHaveLength(1);
    // Enqueueing is a few array writes: 20,000 events take milliseconds, not the time a blocked file takes (forever).
    expect(ingestMs).toBeLessThan(2000);

    release();
    await until(() => exporter.stats.queued === 0 && exporter.stats.written === 1000 + inFlight);
    await exporter.close();
    expect(exporter.stats).toMatchObject({ written: 1000 + inFlight, dropped: total - 1000 - inFlight, errors: 0 });
    // What was written is the oldest events, in order, each once.
    const ports = file.lines.map((l) => (JSON.parse(l) as any).flow.l4.UDP.source_port as number);
    expect(ports).toEqual(Array.from({ length: 1000 + inFlight }, (_, i) => 30_000 + i));
    expect(logs.find((l) => l.msg.includes('caught up'))).toMatchObject({ dropped: total - 1000 - inFlight });
  });

  it('stops on a write error with one log line, resumes when a retry succeeds, and writes no line twice', async () => {
    const file = new MemoryFile();
    const { logger, logs } = capturingLogger();
    const exporter = await started(file, { queueSize: 100, retryIntervalMs: 30 }, logger);
    for (let i = 0; i < 10; i++) exporter.onDecodedEvent(flowEvent(i));
    await until(() => exporter.stats.written === 10);

    file.fail = enospc();
    for (let i = 10; i < 20; i++) exporter.onDecodedEvent(flowEvent(i));
    await until(() => exporter.stats.paused);
    expect(exporter.stats).toMatchObject({
      errors: 1,
      paused: true,
      lastError: 'ENOSPC: no space left on device, write',
    });
    expect(exporter.backlog()).toBeUndefined(); // a replay must not wait on a stopped exporter
    for (let i = 20; i < 200; i++) exporter.onDecodedEvent(flowEvent(i)); // 100 fit in the queue, 80 are dropped
    await new Promise((r) => setTimeout(r, 150)); // several retries fail, quietly
    expect(exporter.stats.errors).toBe(1);
    expect(logs.filter((l) => l.level >= 50)).toHaveLength(1);
    expect(logs.find((l) => l.level >= 50)).toMatchObject({
      err: 'ENOSPC: no space left on device, write',
      file: '/test/events.log',
    });

    file.fail = undefined;
    await until(() => !exporter.stats.paused && exporter.stats.queued === 0);
    await exporter.close();
    expect(logs.filter((l) => l.msg === 'flow export resumed')).toHaveLength(1);
    expect(logs.find((l) => l.msg === 'flow export resumed')).toMatchObject({ dropped: 80 });
    const ports = file.lines.map((l) => (JSON.parse(l) as any).flow.l4.UDP.source_port - 30_000);
    expect(ports).toEqual(Array.from({ length: 120 }, (_, i) => i));
    expect(exporter.stats).toMatchObject({ written: 120, dropped: 80, errors: 1, paused: false });
  });

  it('starts stopped when the disk is full at startup, and exports once space returns', async () => {
    const file = new MemoryFile();
    let opens = 0;
    const exporter = new FlowExporter(
      { filePath: '/test/events.log', allow: [], deny: [], fieldMask: [] },
      async () => {
        if (++opens < 3) throw enospc();
        return file;
      },
      { logger: pino({ level: 'silent' }), retryIntervalMs: 20 },
    );
    await exporter.openAtStart();
    expect(exporter.stats.paused).toBe(true);
    exporter.onDecodedEvent(flowEvent(0));
    await until(() => exporter.stats.written === 1);
    await exporter.close();
    expect(opens).toBe(3);
    expect(file.lines).toHaveLength(1);
  });

  it('refuses to start when the file cannot be opened for good', async () => {
    const exporter = new FlowExporter(
      { filePath: '/test/events.log', allow: [], deny: [], fieldMask: [] },
      async () => {
        throw Object.assign(new Error('EACCES: permission denied, open'), { code: 'EACCES' });
      },
      { logger: pino({ level: 'silent' }) },
    );
    await expect(exporter.openAtStart()).rejects.toThrow(
      'cannot open export file /test/events.log: EACCES: permission denied, open',
    );
  });

  it('close() writes everything still queued, then closes the file', async () => {
    const file = new MemoryFile();
    let release!: () => void;
    file.gate = new Promise((r) => (release = r));
    const exporter = await started(file, { queueSize: 5000 });
    for (let i = 0; i < 3000; i++) exporter.onDecodedEvent(flowEvent(i));
    const closing = exporter.close();
    exporter.onDecodedEvent(flowEvent(9999)); // too late: not taken
    setTimeout(release, 50);
    await closing;
    expect(file.closed).toBe(true);
    expect(file.lines).toHaveLength(3000);
    expect(exporter.stats).toMatchObject({ written: 3000, dropped: 0, queued: 0 });
  });

  it('backlog() does not hold a replay forever on a write that hangs', async () => {
    const file = new MemoryFile();
    file.gate = new Promise(() => undefined); // never completes
    const exporter = await started(file, { retryIntervalMs: 60 });
    for (let i = 0; i < 10; i++) exporter.onDecodedEvent(flowEvent(i));
    await until(() => file.writes === 1);
    const t0 = Date.now();
    await exporter.backlog();
    expect(Date.now() - t0).toBeLessThan(1000); // waited at most about the retry interval
    await new Promise((r) => setTimeout(r, 70));
    expect(exporter.backlog()).toBeUndefined(); // hung for longer than that: treated as stopped, never waited on
  });

  it('backlog() resolves once what is queued is written', async () => {
    const file = new MemoryFile();
    let release!: () => void;
    file.gate = new Promise((r) => (release = r));
    const exporter = await started(file);
    expect(exporter.backlog()).toBeUndefined();
    for (let i = 0; i < 600; i++) exporter.onDecodedEvent(flowEvent(i));
    let settled = false;
    const wait = exporter.backlog()!.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(settled).toBe(false);
    release();
    await wait;
    expect(file.lines).toHaveLength(600);
    await exporter.close();
  });
});

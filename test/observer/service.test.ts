// The Observer service over a real unix socket: every read endpoint streams from the one ring, with Hubble's
// positioning (first/last/follow), lost-event notices for overrun readers, and statuses that say what was wrong.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentEventType, LostEventSource as FlowLostEventSource } from '../../src/api/flow/flow.js';
import {
  GetAgentEventsRequest,
  GetDebugEventsRequest,
  GetFlowsRequest,
  ObserverClient,
  ObserverService,
  type GetFlowsResponse,
} from '../../src/api/observer/observer.js';
import { MonitorAgent } from '../../src/monitor/agent.js';
import { AgentNotification, encodeAgentNotify } from '../../src/monitor/agentNotify.js';
import { encodeDebugMsg } from '../../src/monitor/datapath/debugMsg.js';
import { encodeTraceNotify, TraceObservationPoint, TraceReason } from '../../src/monitor/datapath/traceNotify.js';
import { lostMonitorEvent, LostEventSource } from '../../src/monitor/lostEvent.js';
import type { MonitorEvent, Timestamp } from '../../src/monitor/types.js';
import { Observer } from '../../src/observer/observer.js';
import { Parser } from '../../src/observer/parser/index.js';
import { createObserverService, NODE_OBSERVER_SERVICE } from '../../src/observer/service.js';
import { MAX_FILTER_VALUES } from '../../src/observer/filters/index.js';
import { MAX_PATTERN_LENGTH } from '../../src/observer/filters/goRegexp.js';
import { STATUS_DETAILS_MAX } from '../../src/server/statusDetails.js';
import { createApiServer, shutdownApiServer, type ApiServer } from '../../src/server/grpcServer.js';
import { bindUnixSocket } from '../../src/server/listeners.js';
import { ethernet, ipv4, udp } from '../harness/frames.js';

const NODE = 'svc-node';

function udpFrame(sport: number, dport: number): Uint8Array {
  return ethernet(
    { type: 0x0800 },
    ipv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 17 }, udp(sport, dport, new Uint8Array(8))),
  );
}

function at(seconds: number): Timestamp {
  return { seconds, nanos: 0 };
}

function flowEvent(sport: number, time: Timestamp): MonitorEvent {
  const frame = udpFrame(sport, 53);
  const data = encodeTraceNotify(
    { obsPoint: TraceObservationPoint.TO_NETWORK, origLen: frame.length, reason: TraceReason.UNKNOWN },
    frame,
  );
  return { timestamp: time, nodeName: NODE, payload: { kind: 'perf', cpu: 0, data } };
}

function readAll<T>(stream: grpc.ClientReadableStream<T>): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    stream.on('data', (r: T) => out.push(r));
    stream.on('end', () => resolve(out));
    stream.on('error', reject);
  });
}

/** An Observer with a ring of `capacity`, its monitor agent, and the Observer service on a unix socket. */
async function startService(capacity: number) {
  const parser = new Parser({
    nodeName: NODE,
    clusterName: 'default',
    emitter: { name: 'hubble-ts', version: 'test' },
  });
  const observer = new Observer({ parser, ringCapacity: capacity, clusterName: 'default' });
  const agent = new MonitorAgent();
  agent.register(observer);
  const socket = join(mkdtempSync(join(tmpdir(), 'hubble-ts-svc-')), 'hubble.sock');
  const api = createApiServer([
    {
      name: 'observer.Observer',
      definition: NODE_OBSERVER_SERVICE,
      implementation: createObserverService(observer, {
        nodeName: NODE,
        version: 'v0.0.0-test',
        address: socket,
        tlsEnabled: false,
      }),
    },
  ]);
  const client = new ObserverClient(`unix://${socket}`, grpc.credentials.createInsecure());
  await bindUnixSocket(api.server, socket);
  return {
    agent,
    client,
    close: async () => {
      client.close();
      await shutdownApiServer(api, 100);
    },
  };
}

describe('Observer service', () => {
  let agent: MonitorAgent;
  let client: ObserverClient;
  let close: () => Promise<void>;

  beforeAll(async () => ({ agent, client, close } = await startService(15)));
  afterAll(() => close());

  it('streams agent and debug events on their own endpoints, never as flows', async () => {
    agent.publish({
      timestamp: at(100),
      nodeName: NODE,
      payload: encodeAgentNotify({
        kind: 'start',
        type: AgentNotification.START,
        notification: { time: '2026-01-01T00:00:00Z' },
      }),
    });
    agent.publish({
      timestamp: at(101),
      nodeName: NODE,
      payload: { kind: 'perf', cpu: 1, data: encodeDebugMsg({ subType: 1, source: 7, arg1: 3, arg2: 4 }) },
    });
    agent.publish(flowEvent(1000, at(102)));

    const agentEvents = await readAll(client.getAgentEvents(GetAgentEventsRequest.fromPartial({ number: '10' })));
    expect(agentEvents).toHaveLength(1);
    expect(agentEvents[0]!.agentEvent?.type).toBe(AgentEventType.AGENT_STARTED);
    expect(agentEvents[0]!.nodeName).toBe(NODE);
    expect(agentEvents[0]!.time).toEqual(at(100));

    const debugEvents = await readAll(client.getDebugEvents(GetDebugEventsRequest.fromPartial({ number: '10' })));
    expect(debugEvents).toHaveLength(1);
    expect(debugEvents[0]!.debugEvent?.source?.ID).toBe(7);
    expect(debugEvents[0]!.debugEvent?.cpu).toBe(1);

    const flows = await readAll(client.getFlows(GetFlowsRequest.fromPartial({ number: '10' })));
    expect(flows.map((r) => r.flow?.l4?.UDP?.sourcePort)).toEqual([1000]);
    expect(flows[0]!.flow!.emitter).toEqual({ name: 'hubble-ts', version: 'test' });
  });

  it('delivers new flows to a follower as they are written, then stops when the client cancels', async () => {
    const call = client.getFlows(GetFlowsRequest.fromPartial({ follow: true }));
    const received: GetFlowsResponse[] = [];
    const firstArrived = new Promise<number>((resolve) =>
      call.on('data', (r: GetFlowsResponse) => received.push(r) === 1 && resolve(Date.now())),
    );
    const ended = new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve));
    await new Promise((r) => setTimeout(r, 100)); // the server has positioned the reader at "now"
    const writtenAt = Date.now();
    agent.publish(flowEvent(2000, at(200)));
    expect((await firstArrived) - writtenAt).toBeLessThan(1000);
    expect(received.map((r) => r.flow?.l4?.UDP?.sourcePort)).toEqual([2000]);
    call.cancel();
    expect((await ended).code).toBe(grpc.status.CANCELLED);
  });

  it('passes lost events from the monitor through to GetFlows readers', async () => {
    agent.publish(lostMonitorEvent(LostEventSource.PERF_EVENT_RING_BUFFER, 42, at(300), NODE, 1));
    const all = await readAll(client.getFlows(GetFlowsRequest.fromPartial({ first: true, number: '100' })));
    const lost = all.find((r) => r.lostEvents !== undefined);
    expect(lost?.lostEvents).toMatchObject({
      source: FlowLostEventSource.PERF_EVENT_RING_BUFFER,
      numEventsLost: 42,
      cpu: 1,
    });
  });

  it('tells a follower that fell behind how many events the ring overwrote', async () => {
    const call = client.getFlows(GetFlowsRequest.fromPartial({ follow: true }));
    const received: GetFlowsResponse[] = [];
    call.on('data', (r: GetFlowsResponse) => received.push(r));
    call.on('error', () => undefined);
    call.pause(); // a client that stops reading
    await new Promise((r) => setTimeout(r, 100));
    // Far more than the ring (15) and the transport buffers hold, in one synchronous burst.
    for (let i = 0; i < 20_000; i++) agent.publish(flowEvent(10_000 + (i % 50_000), at(400 + i)));
    call.resume();
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !received.some((r) => r.lostEvents !== undefined))
      await new Promise((r) => setTimeout(r, 50));
    call.cancel();
    const lost = received.filter((r) => r.lostEvents !== undefined);
    expect(lost.length).toBeGreaterThan(0);
    expect(lost[0]!.lostEvents!.source).toBe(FlowLostEventSource.HUBBLE_RING_BUFFER);
    const flows = received.filter((r) => r.flow !== undefined).length;
    const lostCount = lost.reduce((n, r) => n + r.lostEvents!.numEventsLost, 0);
    // Every written event is accounted for: delivered or reported lost.
    expect(flows + lostCount).toBe(20_000);
  });

  it('refuses malformed requests with INVALID_ARGUMENT and the reason', async () => {
    const cases: [Partial<GetFlowsRequest>, RegExp][] = [
      [{ first: true, follow: true }, /first cannot be specified with follow/],
      [{ since: { seconds: 1, nanos: 2_000_000_000 } }, /since/],
    ];
    for (const [req, reason] of cases) {
      const err = await readAll(client.getFlows(GetFlowsRequest.fromPartial(req))).catch((e: grpc.ServiceError) => e);
      expect(err, JSON.stringify(req)).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
      expect((err as grpc.ServiceError).details).toMatch(reason);
    }
  });
});

describe('Observer service over a full ring of 65535 flows', () => {
  let client: ObserverClient;
  let close: () => Promise<void>;

  beforeAll(async () => {
    let agent: MonitorAgent;
    ({ agent, client, close } = await startService(65535));
    for (let i = 0; i < 65535; i++) agent.publish(flowEvent(1024 + (i % 60000), at(1000 + i)));
  });
  afterAll(() => close());

  it('answers others while a request with thousands of filters walks the whole ring', async () => {
    // 5000 filters no flow matches, on a field no index holds (pod names): finding the last 20 matches tests all of
    // them on every one of the 65535 flows.
    const whitelist = Array.from({ length: 5000 }, (_, i) => ({ sourcePod: [`default/pod-${i}`] }));
    const sent = performance.now();
    const call = client.getFlows(GetFlowsRequest.fromPartial({ number: '20', whitelist }));
    let ended = false;
    const done = readAll(call)
      .catch((e: grpc.ServiceError) => e)
      .finally(() => (ended = true));
    await new Promise((r) => setTimeout(r, 200));
    const status = await new Promise<{ numFlows: number }>((resolve, reject) =>
      client.serverStatus({}, (err, res) => (err ? reject(err) : resolve(res as { numFlows: number }))),
    );
    // Timed from the GetFlows: a walk that kept the event loop held this process's own timer too.
    const waited = performance.now() - sent;
    expect(status.numFlows).toBe(65535);
    // Before the walk took its turns with others, ServerStatus waited for all of it (tens of seconds).
    expect(ended).toBe(false);
    expect(waited).toBeLessThan(2000);
    call.cancel();
    expect(await done).toMatchObject({ code: grpc.status.CANCELLED });
  }, 60_000);

  it('finds exactly the flows any of 5,000 port and address filters passes, less those 1,000 deny filters take', async () => {
    // Source ports 1024.., every 12th allowed, alternately by the address written out and by a prefix holding it.
    const allowed = new Set(Array.from({ length: 5000 }, (_, k) => 1024 + 12 * k));
    const denied = new Set(Array.from({ length: 1000 }, (_, k) => 1024 + 36 * k));
    const whitelist = [...allowed].map((port, k) => ({
      sourcePort: [String(port)],
      sourceIp: [k % 2 === 0 ? '10.0.0.1' : '10.0.0.0/24'],
    }));
    const blacklist = [...denied].map((port) => ({ destinationIp: ['10.0.0.2'], sourcePort: [String(port)] }));
    const got = await readAll(
      client.getFlows(GetFlowsRequest.fromPartial({ number: '65535', first: true, whitelist, blacklist })),
    );
    const expected = Array.from({ length: 65535 }, (_, i) => 1024 + (i % 60000)).filter(
      (port) => allowed.has(port) && !denied.has(port),
    );
    expect(got.map((r) => r.flow!.l4!.UDP!.sourcePort)).toEqual(expected);
  }, 60_000);

  it(`refuses a request naming more than ${MAX_FILTER_VALUES} FlowFilters and values, saying how many it named`, async () => {
    // Each FlowFilter counts as one and so does each value in it: 10,000 × 2, and one value more.
    const whitelist = Array.from({ length: MAX_FILTER_VALUES / 2 }, (_, i) => ({
      sourcePort: i === 0 ? ['80', '81'] : ['80'],
    }));
    const err = await readAll(client.getFlows(GetFlowsRequest.fromPartial({ number: '1', whitelist }))).catch(
      (e: grpc.ServiceError) => e,
    );
    expect(err).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect((err as grpc.ServiceError).details).toBe(
      `invalid flow filter: whitelist and blacklist: name ${MAX_FILTER_VALUES + 1} FlowFilters and values together, ` +
        `more than the ${MAX_FILTER_VALUES} one request may name`,
    );
  });

  it('refuses a regular expression longer than 1,024 characters at once, quoting only its start', async () => {
    // RE2's compiler took 17 s over a 50,000-character literal, holding every other client and the capture.
    const err = await readAll(
      client.getFlows(GetFlowsRequest.fromPartial({ number: '1', whitelist: [{ httpPath: ['a'.repeat(50_000)] }] })),
    ).catch((e: grpc.ServiceError) => e);
    expect(err).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect((err as grpc.ServiceError).details).toBe(
      `invalid flow filter: http_path: "${'a'.repeat(100)}"… (50000 characters) is longer than the ` +
        `${MAX_PATTERN_LENGTH} characters a pattern may be`,
    );
  });

  it('compiles a CEL matches() pattern once, not on every flow, and refuses one longer than a regexp may be', async () => {
    // The library compiled the pattern on each call: 65,535 flows × a 500-character pattern took minutes.
    const pattern = `^(${'ab'.repeat(250)})$`;
    const got = await readAll(
      client.getFlows(
        GetFlowsRequest.fromPartial({
          number: '65535',
          whitelist: [{ experimental: { celExpression: [`!_flow.node_name.matches('${pattern}')`] } }],
        }),
      ),
    );
    expect(got.filter((r) => r.flow !== undefined)).toHaveLength(65535);
    const err = await readAll(
      client.getFlows(
        GetFlowsRequest.fromPartial({
          number: '1',
          whitelist: [{ experimental: { celExpression: [`_flow.node_name.matches('${'a'.repeat(2000)}')`] } }],
        }),
      ),
    ).catch((e: grpc.ServiceError) => e);
    expect(err).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect((err as grpc.ServiceError).details).toMatch(
      /has a pattern for matches\(\) that is not valid: longer than the 1024 characters a pattern may be$/,
    );
  }, 60_000);

  it('keeps an error message that would quote a huge request short enough for every gRPC client', async () => {
    // A 100,000-character field mask path, quoted whole, made a 16 KiB+ grpc-message header: gRPC C-core clients
    // (Python, C++) then reported RESOURCE_EXHAUSTED instead of INVALID_ARGUMENT.
    const err = await readAll(
      client.getFlows(GetFlowsRequest.fromPartial({ number: '1', fieldMask: ['x'.repeat(100_000)] })),
    ).catch((e: grpc.ServiceError) => e);
    expect(err).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect((err as grpc.ServiceError).details.length).toBeLessThanOrEqual(STATUS_DETAILS_MAX);
    expect((err as grpc.ServiceError).details).toMatch(/-character message is cut\)$/);
  });

  it('answers others while it compiles a request with thousands of CEL expressions', async () => {
    // 6,000 CEL expressions take over a second to compile here (and are then refused: together they could take too
    // long on each flow); done in one go, ServerStatus waited for all of it (1.7 s).
    const whitelist = Array.from({ length: 6000 }, (_, i) => ({
      experimental: { celExpression: [`_flow.l4.UDP.source_port == ${70000 + i}`] },
    }));
    const sent = performance.now();
    const call = client.getFlows(GetFlowsRequest.fromPartial({ number: '1', whitelist }));
    const done = readAll(call).catch((e: grpc.ServiceError) => e);
    await new Promise((r) => setTimeout(r, 50));
    await new Promise((resolve, reject) => client.serverStatus({}, (err, res) => (err ? reject(err) : resolve(res))));
    const waited = performance.now() - sent;
    expect(await done).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect(waited).toBeLessThan(600);
  }, 60_000);

  it('sends the response time and node name of a masked flow only when the mask keeps them, as Hubble does', async () => {
    const [masked] = await readAll(
      client.getFlows(GetFlowsRequest.fromPartial({ number: '1', fieldMask: ['verdict'] })),
    );
    expect(masked!.flow).toMatchObject({ verdict: 1 });
    expect(masked!.time).toBeUndefined();
    expect(masked!.nodeName).toBe('');
    const [kept] = await readAll(
      client.getFlows(GetFlowsRequest.fromPartial({ number: '1', fieldMask: ['verdict', 'time', 'node_name'] })),
    );
    expect(kept!.time).toEqual(at(1000 + 65534));
    expect(kept!.nodeName).toBe(NODE);
  });
});

// How fields, FlowFilters and the allow/deny lists combine, for flows and for events without a flow.
import { describe, expect, it } from 'vitest';
import { AgentEventType, DebugEventType, FlowFilter, type DeepPartial } from '../../../src/api/flow/flow.js';
import {
  compileEventFilters,
  compileFlowFilters,
  FilterError,
  type FilterableEvent,
} from '../../../src/observer/filters/index.js';
import { flowNames, flows, selected, type FlowName } from './flows.js';

const ff = (partial: DeepPartial<FlowFilter>) => FlowFilter.fromPartial(partial);
const select = (allow: DeepPartial<FlowFilter>[], deny: DeepPartial<FlowFilter>[] = []) =>
  selected(compileFlowFilters(allow.map(ff), deny.map(ff)));

describe('allow and deny lists', () => {
  const cases: [
    title: string,
    allow: DeepPartial<FlowFilter>[],
    deny: DeepPartial<FlowFilter>[],
    expected: FlowName[],
  ][] = [
    ['no filters pass every flow', [], [], flowNames],
    ['an empty FlowFilter in allow passes every flow', [{}], [], flowNames],
    ['an empty FlowFilter in deny hides every flow', [], [{}], []],
    ['values of one field OR', [{ verdict: [1, 2] }], [], flowNames],
    ['fields of one FlowFilter AND', [{ sourcePod: ['xwing'], protocol: ['udp'] }], [], ['xwing-dns']],
    ['allow FlowFilters OR', [{ protocol: ['udp'] }, { protocol: ['sctp'] }], [], ['xwing-dns', 'remote-sctp']],
    ['deny removes what allow passed', [{ sourcePod: ['xwing'] }], [{ protocol: ['tcp'] }], ['xwing-dns']],
    ['deny alone removes from everything', [], [{ verdict: [1] }], ['tiefighter-drop']],
    [
      'any deny FlowFilter removes',
      [],
      [{ protocol: ['tcp'] }, { protocol: ['udp'] }],
      ['ipv6-ping-remote', 'remote-sctp', 'arp-no-ip'],
    ],
    [
      'a deny FlowFilter removes only where all its fields match',
      [],
      [{ protocol: ['tcp'], sourcePod: ['tiefighter'] }],
      flowNames.filter((n) => n !== 'tiefighter-drop'),
    ],
    ['the same filter in allow and deny passes nothing', [{ sourcePod: ['xwing'] }], [{ sourcePod: ['xwing'] }], []],
  ];
  it.each(cases)('%s', (_title, allow, deny, expected) => {
    expect(select(allow, deny)).toEqual(expected);
  });

  it('refuses a bad filter in the deny list as in the allow list', () => {
    expect(() => compileFlowFilters([], [ff({ sourceIp: ['nope'] })])).toThrow(FilterError);
  });

  it('says which field and value are wrong, with a stable code', () => {
    let error: unknown;
    try {
      compileFlowFilters([ff({ verdict: [1] }), ff({ destinationPort: ['99999'] })], []);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(FilterError);
    expect(error).toMatchObject({ field: 'destination_port', value: '99999', code: 'INVALID_FLOW_FILTER' });
    expect((error as Error).message).toBe('destination_port: "99999" is not a port number (0-65535)');
  });
});

describe('events without a flow', () => {
  const agent: FilterableEvent = { kind: 'agent', agentEvent: { type: AgentEventType.POLICY_UPDATED } as never };
  const debug: FilterableEvent = { kind: 'debug', debugEvent: { type: DebugEventType.DBG_CT_LOOKUP4 } as never };
  const lost: FilterableEvent = { kind: 'lost' };
  const flow: FilterableEvent = { kind: 'flow', flow: flows.get('xwing-dns')! };
  const events = { agent, debug, lost, flow };
  type EventName = keyof typeof events;

  const cases: [
    title: string,
    allow: DeepPartial<FlowFilter>[],
    deny: DeepPartial<FlowFilter>[],
    expected: EventName[],
  ][] = [
    ['no filters pass every event', [], [], ['agent', 'debug', 'lost', 'flow']],
    ['event type agent selects agent events (and lost ones)', [{ eventType: [{ type: 130 }] }], [], ['agent', 'lost']],
    [
      'event type agent with a sub type selects by agent event type',
      [{ eventType: [{ type: 130, matchSubType: true, subType: AgentEventType.POLICY_UPDATED }] }],
      [],
      ['agent', 'lost'],
    ],
    [
      'a different agent sub type does not',
      [{ eventType: [{ type: 130, matchSubType: true, subType: AgentEventType.AGENT_STARTED }] }],
      [],
      ['lost'],
    ],
    ['event type debug selects debug events', [{ eventType: [{ type: 2 }] }], [], ['debug', 'lost']],
    ['event type 0 selects every kind', [{ eventType: [{ type: 0 }] }], [], ['agent', 'debug', 'lost', 'flow']],
    ['flow fields never select events without a flow', [{ sourceIp: ['0.0.0.0/0'] }], [], ['flow']],
    ['verdict never selects them, even VERDICT_UNKNOWN', [{ verdict: [0] }], [], []],
    [
      'a label selector that holds on no labels selects them, as upstream',
      [{ sourceLabel: ['!k8s:app'] }],
      [],
      ['agent', 'debug', 'lost', 'flow'],
    ],
    ['trace_id "" selects them, as upstream', [{ traceId: [''] }], [], ['agent', 'debug', 'lost', 'flow']],
    ['deny by event type hides agent events', [], [{ eventType: [{ type: 130 }] }], ['debug', 'flow']],
  ];
  it.each(cases)('%s', (_title, allow, deny, expected) => {
    const pass = compileEventFilters(allow.map(ff), deny.map(ff));
    expect((Object.keys(events) as EventName[]).filter((n) => pass(events[n]))).toEqual(expected);
  });

  it('decides flows exactly as compileFlowFilters does', () => {
    const allow = [ff({ sourcePod: ['xwing'] }), ff({ verdict: [2] })];
    const deny = [ff({ protocol: ['udp'] })];
    const onFlows = compileFlowFilters(allow, deny);
    const onEvents = compileEventFilters(allow, deny);
    for (const name of flowNames) {
      const f = flows.get(name)!;
      expect(onEvents({ kind: 'flow', flow: f })).toBe(onFlows(f));
    }
  });
});

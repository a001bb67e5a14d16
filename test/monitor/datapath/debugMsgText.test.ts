import { describe, expect, it } from 'vitest';
import { debugMessageText, DebugType, type DebugMsg } from '../../../src/monitor/datapath/debugMsg.js';

const msg = (subType: number, arg1 = 0, arg2 = 0, arg3 = 0): DebugMsg => ({
  type: 2,
  subType,
  source: 0,
  hash: 0,
  arg1,
  arg2,
  arg3,
});

describe('debug message text', () => {
  it.each([
    ['generic args in decimal and hex', msg(DebugType.GENERIC, 255, 0), 'No message, arg1=255 (0xff) arg2=0 (0x0)'],
    [
      'conntrack ports, next header and tuple flags',
      msg(DebugType.CT_LOOKUP, (12345 << 16) | 80, (6 << 8) | 1),
      'CT lookup: sport=12345 dport=80 nexthdr=6 flags=OUT',
    ],
    // addr bytes 0a 60 00 0a and port bytes 00 50 are in network order, read as little-endian words
    [
      'an IPv4 frontend and a network-order port',
      msg(DebugType.LB4_LOOKUP_FRONTEND, 0x0a00600a, 0x5000),
      'Frontend service lookup, addr=10.96.0.10 key.dport=80',
    ],
    [
      'a CT verdict falling back to a drop reason',
      msg(DebugType.CT_VERDICT, 133, 0x0100),
      'CT verdict: Policy denied, revnat=1',
    ],
    ['a CT verdict state', msg(DebugType.CT_VERDICT, 2, 0), 'CT verdict: Reply, revnat=0'],
    [
      'an IPv6 address tail',
      msg(DebugType.IP_ID_MAP_FAILED6, 0x0200a8c0),
      'Failed to map addr.p4=[::c0a8:2] to identity',
    ],
    ['a successful socket assign', msg(DebugType.SK_ASSIGN, 0), 'Socket assign: Success'],
    ['a failed socket assign', msg(DebugType.SK_ASSIGN, 2), 'Socket assign: no such file or directory'],
    [
      'an L7 LB redirect',
      msg(DebugType.L7_LB, 0x0100000a, 0x0200000a, 15001),
      'L7 LB from 10.0.0.1 to 10.0.0.2: proxy port 15001',
    ],
    ['a type it has no text for', msg(200, 1, 2), 'Unknown message type=200 arg1=1 arg2=2'],
  ])('formats %s', (_what, m, text) => {
    expect(debugMessageText(m)).toBe(text);
  });

  it('names the interface when a link lookup is given', () => {
    expect(debugMessageText(msg(DebugType.LXC_FOUND, 7, 0x3930), (i) => `lxc${i}`)).toBe(
      'Local container found ifindex lxc7 seclabel 12345',
    );
    expect(debugMessageText(msg(DebugType.LXC_FOUND, 7, 0x3930))).toBe('Local container found ifindex  seclabel 12345');
  });
});

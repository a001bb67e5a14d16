import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DebugEvent, DebugEventType } from '../../../src/api/flow/flow.js';
import { DatapathDecodeError } from '../../../src/monitor/datapath/decodeError.js';
import { DebugType, encodeDebugMsg } from '../../../src/monitor/datapath/debugMsg.js';
import { decodeDebugEvent } from '../../../src/observer/parser/debug.js';

describe('debug event parser', () => {
  it('turns a debug message into a DebugEvent with its type, args, cpu and text', () => {
    const data = encodeDebugMsg({
      subType: DebugType.CT_LOOKUP,
      source: 0,
      hash: 0xabc,
      arg1: (12345 << 16) | 80,
      arg2: (6 << 8) | 1,
      arg3: 9,
    });
    expect(decodeDebugEvent(data, 3)).toEqual({
      type: DebugEventType.DBG_CT_LOOKUP,
      source: undefined,
      hash: 0xabc,
      arg1: (12345 << 16) | 80,
      arg2: (6 << 8) | 1,
      arg3: 9,
      message: 'CT lookup: sport=12345 dport=80 nexthdr=6 flags=OUT',
      cpu: 3,
    });
  });

  it('names the source endpoint by id, adding what the endpoint lookup knows', () => {
    const data = encodeDebugMsg({ subType: DebugType.GENERIC, source: 42 });
    expect(decodeDebugEvent(data, 0).source).toMatchObject({ ID: 42, identity: 0, podName: '' });
    const known = decodeDebugEvent(data, 0, {
      endpointById: (id) =>
        id === 42
          ? { ID: 999, identity: 1234, namespace: 'default', podName: 'web-0', labels: ['app=web'] }
          : undefined,
    });
    expect(known.source).toMatchObject({
      ID: 42,
      identity: 1234,
      namespace: 'default',
      podName: 'web-0',
      labels: ['app=web'],
    });
  });

  it('passes through debug types newer than the text table and says so in the message', () => {
    const event = decodeDebugEvent(encodeDebugMsg({ subType: DebugType.SKIP_POLICY, arg1: 1, arg2: 2 }), 0);
    expect(event.type).toBe(DebugEventType.DBG_SKIP_POLICY);
    expect(event.message).toBe('Unknown message type=66 arg1=1 arg2=2');
  });

  it('produces messages that survive the protobuf wire', () => {
    const event = decodeDebugEvent(
      encodeDebugMsg({ subType: DebugType.LB4_LOOKUP_FRONTEND, source: 7, hash: 1, arg1: 0x0a00600a, arg2: 0x5000 }),
      1,
    );
    expect(DebugEvent.decode(DebugEvent.encode(event).finish())).toEqual(event);
  });

  it('throws only DatapathDecodeError for bytes that are not a debug message', () => {
    expect(() => decodeDebugEvent(Uint8Array.of(2, 1, 0), 0)).toThrow(
      expect.objectContaining({ code: 'SHORT_BUFFER' }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.boolean(), (bytes, typed) => {
        if (typed && bytes.length > 0) bytes[0] = 2;
        try {
          expect(typeof decodeDebugEvent(bytes, 0).message).toBe('string');
        } catch (error) {
          expect(error).toBeInstanceOf(DatapathDecodeError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

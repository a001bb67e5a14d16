import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeDebugCapture } from '../../../src/monitor/datapath/debugCapture.js';
import { decodeDropNotify } from '../../../src/monitor/datapath/dropNotify.js';
import { MessageType } from '../../../src/monitor/datapath/messageType.js';
import { decodePolicyVerdictNotify } from '../../../src/monitor/datapath/policyVerdict.js';
import { decodeTraceNotify } from '../../../src/monitor/datapath/traceNotify.js';
import { EventHeader } from '../../../src/observer/parser/eventHeader.js';

/** What the monitor codec reads, in EventHeader's terms. */
function viaCodec(data: Uint8Array): Partial<EventHeader> {
  switch (data[0]) {
    case MessageType.TRACE: {
      const t = decodeTraceNotify(data);
      return {
        subType: t.obsPoint,
        source: t.source,
        srcLabel: t.srcLabel,
        dstLabel: t.dstLabel,
        dstID: t.dstID,
        reason: t.reason,
        flags: t.flags,
        ifindex: t.ifindex,
        origIPOffset: t.origIP === undefined ? -1 : t.origIP.byteOffset - data.byteOffset,
        ipTraceId: Number(t.ipTraceId),
        payloadOffset: t.payloadOffset,
      };
    }
    case MessageType.DROP: {
      const d = decodeDropNotify(data);
      return {
        subType: d.subType,
        source: d.source,
        srcLabel: d.srcLabel,
        dstLabel: d.dstLabel,
        dstID: d.dstID,
        line: d.line,
        file: d.file,
        ifindex: d.ifindex,
        flags: d.flags,
        ipTraceId: Number(d.ipTraceId),
        payloadOffset: d.payloadOffset,
      };
    }
    case MessageType.POLICY_VERDICT: {
      const p = decodePolicyVerdictNotify(data);
      return {
        subType: p.subType,
        source: p.source,
        remoteLabel: p.remoteLabel,
        verdict: p.verdict,
        flags: p.flags,
        authType: p.authType,
        payloadOffset: p.payloadOffset,
      };
    }
    default: {
      const c = decodeDebugCapture(data);
      return { subType: c.subType, source: c.source, arg1: c.arg1, payloadOffset: c.payloadOffset };
    }
  }
}

function outcome<T>(fn: () => T): { value: T } | { error: string } {
  try {
    return { value: fn() };
  } catch (err) {
    return { error: `${(err as Error).name}: ${(err as Error).message}` };
  }
}

describe('event header reader', () => {
  it('reads what the monitor codecs read, and fails where they fail with their error', () => {
    const header = new EventHeader();
    const types = fc.constantFrom(MessageType.TRACE, MessageType.DROP, MessageType.POLICY_VERDICT, MessageType.CAPTURE);
    // Versions are drawn small so that every known layout (and the first unknown one) comes up often.
    fc.assert(
      fc.property(types, fc.integer({ min: 0, max: 4 }), fc.uint8Array({ maxLength: 80 }), (type, version, rest) => {
        const data = Uint8Array.of(type, ...rest);
        if (data.length > 14) data[14] = version;
        const mine = outcome(() => {
          header.read(data);
          const { type: _type, ...fields } = { ...header };
          return fields;
        });
        const theirs = outcome(() => viaCodec(data));
        if ('error' in theirs) expect(mine).toEqual(theirs);
        else expect('value' in mine && mine.value).toMatchObject(theirs.value);
      }),
      { numRuns: 20_000 },
    );
  });
});

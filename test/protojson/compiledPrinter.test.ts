// The compiled printer against the reference (ts-proto encode -> @bufbuild decode -> toJson -> JSON.stringify): random
// messages built from the descriptors themselves, so every field of every type in an ExportEvent is exercised.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Flow } from '../../src/api/flow/flow.js';
import { ExportEvent } from '../../src/api/observer/observer.js';
import { compiledPrinter } from '../../src/protojson/compiledPrinter.js';
import { messageToJson } from '../../src/protojson/protojson.js';
import { randomMessages } from '../harness/protoArbitraries.js';

/** The reference's text, or the error it throws. */
function reference(m: ExportEvent): string {
  try {
    return JSON.stringify(messageToJson(ExportEvent, 'observer.ExportEvent', m));
  } catch (err) {
    return `threw: ${(err as Error).message}`;
  }
}

function compiled(print: (m: ExportEvent) => string, m: ExportEvent): string {
  try {
    return print(m);
  } catch (err) {
    return `threw: ${(err as Error).message}`;
  }
}

describe('compiledPrinter', () => {
  let referenceUses = 0;
  const print = compiledPrinter(ExportEvent, 'observer.ExportEvent', () => referenceUses++);
  const exportEvent = randomMessages<ExportEvent>('observer.ExportEvent');

  it('prints every ExportEvent exactly as the reference printer does', () => {
    fc.assert(
      fc.property(exportEvent, (m) => {
        expect(compiled(print, m)).toBe(reference(m));
      }),
      { numRuns: 3000 },
    );
    // Most random messages are printed by the compiled printer itself (the rest hold what it leaves to the reference).
    expect(referenceUses).toBeGreaterThan(0);
    expect(referenceUses).toBeLessThan(3000 / 2);
  });

  it('prints a typical flow without the reference, and faster', () => {
    const flow = Flow.fromPartial({
      time: { seconds: 1_700_000_000, nanos: 123_456_789 },
      uuid: 'c0ffee00-0000-4000-8000-000000000000',
      verdict: 1,
      ethernet: { source: '02:00:00:00:00:01', destination: '02:00:00:00:00:02' },
      IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 1 },
      l4: { TCP: { sourcePort: 40000, destinationPort: 80, flags: { SYN: true } } },
      source: { identity: 2, labels: ['reserved:world'] },
      destination: { identity: 1, labels: ['reserved:host'] },
      Type: 1,
      nodeName: 'node-1',
      eventType: { type: 4, subType: 10 },
      isReply: false,
      Summary: 'TCP Flags: SYN',
    });
    const m: ExportEvent = { flow, nodeName: 'node-1', time: flow.time };
    const before = referenceUses;
    expect(print(m)).toBe(reference(m));
    expect(referenceUses).toBe(before);
    const time = (f: () => unknown) => {
      const t0 = performance.now();
      for (let i = 0; i < 3000; i++) f();
      return performance.now() - t0;
    };
    time(() => print(m));
    time(() => reference(m));
    expect(time(() => print(m)) * 2).toBeLessThan(time(() => reference(m))); // about 3.5 times on the bench machine
  });
});

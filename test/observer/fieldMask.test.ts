import { describe, expect, it } from 'vitest';
import { Flow, Verdict } from '../../src/api/flow/flow.js';
import { FieldMaskError, FlowFieldMask, propertyName } from '../../src/observer/fieldMask.js';
import { protoJsonRegistry } from '../../src/protojson/protojson.js';

const flow = Flow.fromPartial({
  time: { seconds: 1_700_000_000, nanos: 5 },
  uuid: 'u-1',
  verdict: Verdict.FORWARDED,
  nodeName: 'node-a',
  IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 1 },
  l4: { TCP: { sourcePort: 1234, destinationPort: 80, flags: { SYN: true } } },
  source: { identity: 42, namespace: 'app', podName: 'client', labels: ['k8s:app=client'] },
  isReply: false,
  Summary: 'TCP Flags: SYN',
});

describe('FlowFieldMask', () => {
  it('keeps only masked fields, whole or nested, and defaults the rest', () => {
    const mask = FlowFieldMask.compile(['time', 'source.identity', 'l4.TCP.destination_port', 'is_reply'])!;
    const out = mask.apply(flow);
    expect(out.time).toEqual(flow.time);
    expect(out.source).toEqual(Flow.fromPartial({ source: { identity: 42 } }).source);
    expect(out.l4?.TCP?.destinationPort).toBe(80);
    expect(out.l4?.TCP?.sourcePort).toBe(0);
    expect(out.isReply).toBe(false);
    expect(out.uuid).toBe('');
    expect(out.IP).toBeUndefined();
    expect(out.Summary).toBe('');
    // The masked flow still encodes: every field the encoder reads is present.
    expect(Flow.decode(Flow.encode(out).finish())).toEqual(out);
  });

  it('returns no mask for an empty path list', () => {
    expect(FlowFieldMask.compile([])).toBeUndefined();
  });

  it.each([
    ['nope', /flow.Flow has no field "nope"/],
    ['source.nope', /no field "source.nope"/],
    ['uuid.x', /"uuid" is a string, it has no sub-fields/],
  ])('refuses the path %s and says why', (path, message) => {
    expect(() => FlowFieldMask.compile([path])).toThrow(FieldMaskError);
    expect(() => FlowFieldMask.compile([path])).toThrow(message);
  });

  it('maps every Flow field name to the generated property', () => {
    // Guards the snake_case -> camelCase rule the mask relies on against the generated code.
    const desc = protoJsonRegistry().getMessage('flow.Flow')!;
    const base = Flow.fromPartial({}) as unknown as Record<string, unknown>;
    const names = desc.fields.map((f) => propertyName(f.name, f.jsonName));
    expect(names.filter((n) => !(n in base))).toEqual([]);
    expect(names.length).toBe(Object.keys(base).length);
  });
});

// Random generated (ts-proto shaped) messages built from our descriptors, so a property test exercises every field of
// every type a message holds: strings with unpaired surrogates and HTML, 64-bit extremes, wrappers, oneofs.
import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { propertyName, protoJsonRegistry } from '../../src/protojson/protojson.js';

const STRINGS = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 6 }), // any code point, including unpaired surrogates
  fc.constantFrom('', '<a href="x">&amp;</a>', 'line\u2028sep\u2029', 'tab\t"quote"\\', 'é😀', '\ud800'),
);

function scalar(type: ScalarType): fc.Arbitrary<unknown> {
  switch (type) {
    case ScalarType.STRING:
      return STRINGS;
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.UINT32:
      return fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff_ffff }));
    case ScalarType.INT32:
      return fc.oneof(fc.constant(0), fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }));
    case ScalarType.UINT64:
      return fc.oneof(fc.constant(0), fc.maxSafeNat(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(Number));
    case ScalarType.INT64:
      return fc.oneof(fc.constant(0), fc.maxSafeInteger());
    default:
      return fc.constant(undefined);
  }
}

const TIMESTAMP = fc.record({
  seconds: fc.oneof(fc.integer({ min: -62_135_596_800, max: 253_402_300_799 }), fc.constant(1_700_000_000)),
  nanos: fc.oneof(fc.constantFrom(0, 1_000_000, 1000, 1, 999_999_999), fc.integer({ min: 0, max: 999_999_999 })),
});

const WRAPPERS: Record<string, ScalarType> = {
  'google.protobuf.BoolValue': ScalarType.BOOL,
  'google.protobuf.Int32Value': ScalarType.INT32,
  'google.protobuf.UInt32Value': ScalarType.UINT32,
};

/** A generated (ts-proto shaped) message of `desc`: scalars and lists always there, messages set or not, at most one member per oneof. */
export function message(desc: DescMessage, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const plain = desc.fields.filter((f) => f.oneof === undefined);
  const oneofs = desc.oneofs;
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of plain) record[propertyName(f.name, f.jsonName)] = fieldValue(f, depth);
  const chosen = oneofs.map((o) =>
    fc.option(
      fc.oneof(...o.fields.map((f) => fieldValue(f, depth).map((v) => [propertyName(f.name, f.jsonName), v] as const))),
      { nil: undefined },
    ),
  );
  return fc.tuple(fc.record(record), fc.tuple(...chosen)).map(([fields, members]) => {
    const out: Record<string, unknown> = { ...fields };
    for (const m of members) if (m !== undefined && m[1] !== undefined) out[m[0]] = m[1];
    return out;
  });
}

function fieldValue(f: DescField, depth: number): fc.Arbitrary<unknown> {
  switch (f.fieldKind) {
    case 'scalar':
      return scalar(f.scalar);
    case 'enum':
      return fc.oneof(fc.constantFrom(...f.enum.values.map((v) => v.number)), fc.constant(1234));
    case 'list':
      if (f.listKind === 'scalar') return fc.array(scalar(f.scalar), { maxLength: 3 });
      if (f.listKind === 'enum')
        return fc.array(fc.constantFrom(...f.enum.values.map((v) => v.number)), { maxLength: 3 });
      return depth > 3 ? fc.constant([]) : fc.array(message(f.message, depth + 1), { maxLength: 2 });
    case 'message': {
      const name = f.message.typeName;
      if (name === 'google.protobuf.Timestamp') return fc.option(TIMESTAMP, { nil: undefined });
      if (WRAPPERS[name] !== undefined) return fc.option(scalar(WRAPPERS[name]!), { nil: undefined });
      if (name === 'google.protobuf.Any') {
        // A set Any goes to the reference printer: an (empty) Emitter packed in one, or none.
        return fc.option(fc.constant({ typeUrl: 'type.googleapis.com/flow.Emitter', value: new Uint8Array() }), {
          nil: undefined,
          freq: 5,
        });
      }
      return depth > 3 ? fc.constant(undefined) : fc.option(message(f.message, depth + 1), { nil: undefined });
    }
    default:
      return fc.constant(undefined);
  }
}

/** Random `typeName` messages ("observer.ExportEvent"). */
export function randomMessages<T>(typeName: string): fc.Arbitrary<T> {
  const desc = protoJsonRegistry().getMessage(typeName);
  if (desc === undefined) throw new Error(`unknown message type ${typeName}`);
  return message(desc, 0) as unknown as fc.Arbitrary<T>;
}

// Requests whose 64-bit integers do not fit a JavaScript number. Our generated decoders (ts-proto, forceLong=number)
// throw on any int64/uint64 beyond ±(2^53 - 1), and grpc-js answers a request its deserializer throws on with INTERNAL.
// A client may send such values in well-formed messages (hubble's StopCondition counts and IP trace ids are uint64,
// Timestamp and Duration seconds int64), so the server must answer them like any other value: a request that fails to
// decode for that reason alone is decoded again with those integers saturated at ±(2^53 - 1). What that means is then
// up to the handler, as for any value: a count that large stays "that many", a timestamp or duration that far out is
// refused as out of range (INVALID_ARGUMENT), an IP trace id that large is refused as one this server cannot match.
import { BinaryReader } from '@bufbuild/protobuf/wire';
import type * as grpc from '@grpc/grpc-js';

const MAX = BigInt(Number.MAX_SAFE_INTEGER);
const MIN = -MAX;

function saturate(value: bigint | string): bigint | string {
  const v = BigInt(value);
  return v > MAX ? MAX : v < MIN ? MIN : value;
}

/** A reader whose 64-bit integers never leave the range a JavaScript number holds exactly. */
class SaturatingReader extends BinaryReader {
  override int64(): bigint | string {
    return saturate(super.int64());
  }
  override uint64(): bigint | string {
    return saturate(super.uint64());
  }
  override sint64(): bigint | string {
    return saturate(super.sint64());
  }
  override fixed64(): bigint | string {
    return saturate(super.fixed64());
  }
  override sfixed64(): bigint | string {
    return saturate(super.sfixed64());
  }
}

/** What ts-proto's generated longToNumber throws for a value beyond ±(2^53 - 1). */
function isUnsafeIntegerError(err: unknown): boolean {
  return err instanceof Error && /^Value is (larger|smaller) than Number\.(MAX|MIN)_SAFE_INTEGER$/.test(err.message);
}

/**
 * The same service with request deserializers that saturate 64-bit integers rather than throw on them. The generated
 * decode(input) takes a reader as well as bytes, so the second attempt passes it a SaturatingReader; requests that
 * decode the first time (all but these) cost nothing more.
 */
export function saturateWideIntegers<S extends grpc.ServiceDefinition>(definition: S): S {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(definition)) {
    const decode = method.requestDeserialize;
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (err) {
          if (!isUnsafeIntegerError(err)) throw err;
          return decode(new SaturatingReader(bytes) as unknown as Buffer);
        }
      },
    };
  }
  return out as unknown as S;
}

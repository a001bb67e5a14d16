// Protobuf binary encoding of the generated (ts-proto) messages, compiled once per message type from our descriptors:
// the same bytes a decoder reads back from ts-proto's own `encode`, an order of magnitude faster. It writes into one
// growable buffer with no per-field objects, and encodes a frozen sub-message (the parser shares frozen Ethernet, IP,
// Layer4, Endpoint ... parts between flows, made with sharedMessage) once, copying its bytes whenever it recurs.
import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { propertyName, protoJsonRegistry } from '../protojson/protojson.js';

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_FIXED32 = 5;

/** FeatureSet.FieldPresence.IMPLICIT: proto3 scalars without `optional`, written only when not zero. */
const IMPLICIT = 2;

const TWO_32 = 0x1_0000_0000;

/** A growable output buffer the encoders append to. */
export class ProtoWriter {
  /** A Buffer, so what was written can be copied out natively (Buffer.copy), without a view per copy. */
  buf: Buffer;
  pos = 0;
  private view: DataView;

  constructor(initialSize = 4096) {
    this.buf = Buffer.alloc(initialSize);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const grown = Buffer.alloc(size);
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
    this.view = new DataView(grown.buffer, grown.byteOffset, grown.byteLength);
  }

  /** An unsigned value below 2^32. */
  uint32(v: number): void {
    this.ensure(5);
    const b = this.buf;
    let p = this.pos;
    while (v > 0x7f) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p++] = v;
    this.pos = p;
  }

  /** An unsigned integer up to 2^53 (or a negative int64/int32 as its two's complement, ten bytes). */
  uint64(v: number): void {
    if (v >= 0 && v < TWO_32) {
      this.uint32(v);
      return;
    }
    let lo: number;
    let hi: number;
    if (v >= 0) {
      lo = (v % TWO_32) >>> 0;
      hi = Math.floor(v / TWO_32) >>> 0;
    } else {
      // Two's complement over 64 bits.
      const magnitude = -v;
      lo = (magnitude % TWO_32) >>> 0;
      hi = Math.floor(magnitude / TWO_32) >>> 0;
      hi = ~hi >>> 0;
      lo = ~lo >>> 0;
      if (lo === 0xffff_ffff) {
        lo = 0;
        hi = (hi + 1) >>> 0;
      } else lo = (lo + 1) >>> 0;
    }
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    while (hi > 0 || lo > 0x7f) {
      b[p++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    b[p++] = lo;
    this.pos = p;
  }

  int32(v: number): void {
    if (v >= 0) this.uint32(v);
    else this.uint64(v);
  }

  fixed32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v >>> 0, true);
    this.pos += 4;
  }

  fixed64(v: number): void {
    this.ensure(8);
    this.view.setBigUint64(this.pos, BigInt.asUintN(64, BigInt(v)), true);
    this.pos += 8;
  }

  float(v: number): void {
    this.ensure(4);
    this.view.setFloat32(this.pos, v, true);
    this.pos += 4;
  }

  double(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  byte(b: number): void {
    if (this.pos >= this.buf.length) this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** A length-delimited string: ASCII copied as it is checked, anything else through TextEncoder. */
  string(s: string): void {
    const n = s.length;
    this.ensure(5 + n);
    const start = this.pos;
    this.uint32(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) {
        // Not ASCII: the UTF-8 length differs from the string's; start over.
        this.pos = start;
        this.bytes(utf8.encode(s));
        return;
      }
      b[p++] = c;
    }
    this.pos = p;
  }

  /** A length-delimited byte string. */
  bytes(v: Uint8Array): void {
    this.uint32(v.length);
    this.raw(v);
  }

  /** Bytes as they are (a tag, or a sub-message encoded before); short ones by hand, set() costs more for them. */
  raw(v: Uint8Array): void {
    const n = v.length;
    this.ensure(n);
    if (n < 64) {
      const b = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) b[p++] = v[i]!;
      this.pos = p;
      return;
    }
    this.buf.set(v, this.pos);
    this.pos += n;
  }

  /**
   * Starts a length-delimited field whose length is not known yet; returns where its length goes. `reserve` bytes are
   * kept for the length (2 for bodies expected past 127 bytes, such as a flow), and endDelimited moves the body when
   * the length needs another number.
   */
  beginDelimited(reserve = 1): number {
    this.ensure(reserve);
    const at = this.pos;
    this.pos += reserve;
    return at * 4 + reserve;
  }

  /** Ends what beginDelimited started (`started` is what it returned). */
  endDelimited(started: number): void {
    const reserve = started & 3;
    const lengthAt = (started - reserve) / 4;
    const length = this.pos - lengthAt - reserve;
    let size = 1;
    for (let v = length; v > 0x7f; v >>>= 7) size++;
    if (size !== reserve) {
      if (size > reserve) this.ensure(size - reserve);
      this.buf.copyWithin(lengthAt + size, lengthAt + reserve, this.pos);
      this.pos += size - reserve;
    }
    const b = this.buf;
    let p = lengthAt;
    let v = length;
    while (v > 0x7f) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p] = v;
  }

  /** A copy of what was written. */
  finish(): Uint8Array {
    // A copy: Buffer's own slice() would be a view of this writer's memory.
    return Uint8Array.prototype.slice.call(this.buf, 0, this.pos);
  }
}

const utf8 = new TextEncoder();

/** Where a shared sub-message keeps its encoding (a symbol: invisible to JSON, equality checks and ts-proto). */
const ENCODED = Symbol('hubblets.encoded');

/**
 * Freezes `message`, a `typeName` sub-message that many flows will share, and keeps its encoding with it, so writing
 * it again is a copy. It must not change afterwards (frozen, it cannot).
 */
export function sharedMessage<T extends object>(typeName: string, message: T): Readonly<T> {
  // Encoded the first time it is written: many parts are made and never read back (nobody asked for those flows).
  const shared: SharedEncoding = { typeName, bytes: undefined };
  Object.defineProperty(message, ENCODED, { value: shared, enumerable: false });
  return Object.freeze(message);
}

/** What a shared part keeps: its type, and its encoding once something wrote it. */
interface SharedEncoding {
  readonly typeName: string;
  bytes: Uint8Array | undefined;
}

/** The encoding of the shared part `value` (made with sharedMessage), made on first use. */
function sharedBytes(shared: SharedEncoding, value: object): Uint8Array {
  return (shared.bytes ??= encodeMessage(shared.typeName, value));
}

/** The body of `value`, a `typeName` sub-message: the encoding a shared part keeps, else encoded now (a new array). */
export function encodedBody(value: object, typeName: string): Uint8Array {
  const shared = (value as { [ENCODED]?: SharedEncoding })[ENCODED];
  return shared === undefined ? encodeMessage(typeName, value) : (shared.bytes ?? sharedBytes(shared, value));
}

/** Writes a message's fields (not its own tag and length) to the writer. */
export type MessageBodyEncoder = (message: unknown, w: ProtoWriter) => void;

/** Thrown for a value the generated type cannot hold (a string where a number belongs, ...). */
export class EncodeError extends Error {
  override readonly name = 'EncodeError';
}

/** A compiled message type; `body` is replaced by the generated function once it exists (types may recurse). */
interface Compiled {
  body: MessageBodyEncoder;
}

const compiledTypes = new Map<string, Compiled>();

/** The body encoder of `typeName` ("flow.Flow"), compiled on first use. */
export function messageBodyEncoder(typeName: string): MessageBodyEncoder {
  const desc = protoJsonRegistry().getMessage(typeName);
  if (desc === undefined) throw new Error(`unknown message type "${typeName}"`);
  return compile(desc).body;
}

/** The buffer encodeMessage writes in before copying out what it wrote (it is called per new shared part). */
let scratch: ProtoWriter | undefined;
let scratchBusy = false;

/** Encodes one `typeName` message to a new byte array. */
export function encodeMessage(typeName: string, message: unknown): Uint8Array {
  // A shared part may encode another on its first write (a Layer4's TCP flags): nested calls get their own buffer.
  const nested = scratchBusy;
  const w = nested ? new ProtoWriter(256) : (scratch ??= new ProtoWriter(4096));
  scratchBusy = true;
  try {
    w.pos = 0;
    messageBodyEncoder(typeName)(message, w);
    return w.finish();
  } finally {
    if (!nested) scratchBusy = false;
  }
}

function tagBytes(field: number, wireType: number): Uint8Array {
  const w = new ProtoWriter(8);
  w.uint32((field << 3) | wireType);
  return w.finish();
}

/** Source that writes a field's tag into the local buffer `b` at `p`. */
function tagSource(field: number, wireType: number): string {
  return Array.from(tagBytes(field, wireType), (byte) => `b[p++] = ${byte};`).join(' ');
}

/** Writes varint `v` (unsigned, below 2^32) into `b` at `p`; returns the position after it. */
function writeVarint32(b: Uint8Array, p: number, v: number): number {
  while (v > 0x7f) {
    b[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[p++] = v;
  return p;
}

/** Most bytes one set scalar field of this type takes, tag included (tags here are at most 3 bytes). */
function scalarMaxBytes(scalar: ScalarType): number {
  switch (wireTypeOf(scalar)) {
    case WIRE_FIXED32:
      return 3 + 4;
    case WIRE_FIXED64:
      return 3 + 8;
    case WIRE_VARINT:
      return 3 + 10;
    default:
      return Infinity;
  }
}

/**
 * Most bytes a message of this type can take, or Infinity when it holds strings, bytes, lists or such messages:
 * messages below 128 bytes get their one length byte without ever moving their body.
 */
function messageMaxBytes(desc: DescMessage, seen = new Set<string>()): number {
  if (seen.has(desc.typeName) || desc.typeName === 'google.protobuf.FieldMask') return Infinity;
  if (wrapperScalar(desc) !== undefined) return Infinity;
  seen.add(desc.typeName);
  let total = 0;
  for (const field of desc.fields) {
    if (field.fieldKind === 'scalar' || field.fieldKind === 'enum') {
      total += scalarMaxBytes(field.fieldKind === 'enum' ? ScalarType.INT32 : field.scalar);
    } else if (field.fieldKind === 'message') {
      total += 3 + 5 + messageMaxBytes(field.message, seen);
    } else {
      return Infinity;
    }
  }
  seen.delete(desc.typeName);
  return total;
}

/**
 * Compiles a message type to a function generated for it, as protobuf.js does: straight-line code that reads each
 * field by its own property name (one inline cache per field, not one shared lookup) and writes it into the buffer
 * through local variables, making room once for all fixed-size fields and again after each variable-size one.
 */
function compile(desc: DescMessage): Compiled {
  const known = compiledTypes.get(desc.typeName);
  if (known !== undefined) return known;
  const compiled: Compiled = { body: () => undefined };
  compiledTypes.set(desc.typeName, compiled);

  const helpers: unknown[] = [];
  const helper = (value: unknown): string => {
    helpers.push(value);
    return `h[${helpers.length - 1}]`;
  };
  const fields = [...desc.fields].sort((x, y) => x.number - y.number);
  // Room for every fixed-size field at once; variable-size ones make their own and then renew this.
  let reserve = 0;
  for (const field of fields) {
    if (field.fieldKind === 'scalar' || field.fieldKind === 'enum') {
      const max = scalarMaxBytes(field.fieldKind === 'enum' ? ScalarType.INT32 : field.scalar);
      if (max !== Infinity) reserve += max;
    } else if (field.fieldKind === 'message') {
      reserve += 8; // tag and length of a sub-message
    }
  }
  const renew = `w.pos = p; w.ensure(${reserve}); b = w.buf; p = w.pos;`;
  const lines: string[] = [];
  for (const field of fields) {
    lines.push(fieldSource(field, `m[${JSON.stringify(propertyName(field.name, field.jsonName))}]`, helper, renew));
  }
  const source = `return function encode_${desc.typeName.replace(/\W/g, '_')}(m, w) {
  if (typeof m !== 'object' || m === null) throw new EncodeError(${JSON.stringify(`${desc.typeName}: not a message`)});
  let v, b, p;
  w.ensure(${reserve}); b = w.buf; p = w.pos;
${lines.join('\n')}
  w.pos = p;
};`;
  compiled.body = new Function('h', 'EncodeError', 'ENCODED', 'V', 'SB', source)(
    helpers,
    EncodeError,
    ENCODED,
    writeVarint32,
    sharedBytes,
  ) as MessageBodyEncoder;
  return compiled;
}

/** Source writing one set scalar `v` into `b` at `p` (renewing the room after a variable-size value). */
function scalarSource(scalar: ScalarType, helper: (value: unknown) => string, renew: string): string {
  const viaWriter = (call: string): string => `w.pos = p; ${call}; b = w.buf; p = w.pos; ${renew}`;
  switch (scalar) {
    case ScalarType.UINT32:
      return 'p = V(b, p, v >>> 0);';
    case ScalarType.INT32:
      return `if (v >= 0) p = V(b, p, v | 0); else { ${viaWriter('w.int32(v | 0)')} }`;
    case ScalarType.BOOL:
      return 'b[p++] = v ? 1 : 0;';
    case ScalarType.STRING:
      return viaWriter(`if (typeof v === 'string') w.string(v); else ${helper(scalarWriter(scalar))}(v, w)`);
    case ScalarType.UINT64:
    case ScalarType.INT64:
      return `if (typeof v === 'number' && v >= 0 && v <= 0xffffffff) p = V(b, p, v); else { ${viaWriter(`${helper(scalarWriter(scalar))}(v, w)`)} }`;
    default:
      return viaWriter(`${helper(scalarWriter(scalar))}(v, w)`);
  }
}

/** Source writing a set sub-message `v`: its shared encoding when it has one, else its fields. */
function subMessageSource(
  desc: DescMessage,
  fieldNumber: number,
  helper: (value: unknown) => string,
  renew: string,
): string {
  const tag = tagSource(fieldNumber, WIRE_BYTES);
  if (desc.typeName === 'google.protobuf.BoolValue') {
    // A wrapper holds its value as field 1, left out when false.
    return `${tag} if (v) { b[p++] = 2; b[p++] = 8; b[p++] = 1; } else b[p++] = 0;`;
  }
  if (desc.typeName === 'google.protobuf.FieldMask' || wrapperScalar(desc) !== undefined) {
    return `w.pos = p; ${helper(specialMessageWriter(desc, tagBytes(fieldNumber, WIRE_BYTES)))}(v, w); b = w.buf; p = w.pos; ${renew}`;
  }
  const sub = helper(compile(desc));
  const shared = `const s = v[ENCODED]; if (s !== undefined) { const e = s.bytes ?? SB(s, v); p = V(b, p, e.length); w.pos = p; w.raw(e); p = w.pos; ${renew} }`;
  if (messageMaxBytes(desc) < 0x80) {
    // Short for sure: one byte of length, filled in afterwards, no move.
    return `${tag} { ${shared} else { const at = p++; w.pos = p; ${sub}.body(v, w); b = w.buf; p = w.pos; b[at] = p - at - 1; ${renew} } }`;
  }
  return `${tag} { ${shared} else { w.pos = p; const at = w.beginDelimited(); ${sub}.body(v, w); w.endDelimited(at); b = w.buf; p = w.pos; ${renew} } }`;
}

/** The source that writes one field from `get` (an expression reading it). */
function fieldSource(field: DescField, get: string, helper: (value: unknown) => string, renew: string): string {
  switch (field.fieldKind) {
    case 'scalar':
    case 'enum': {
      const scalar = field.fieldKind === 'enum' ? ScalarType.INT32 : field.scalar;
      const alwaysWhenSet = field.oneof !== undefined || field.presence !== IMPLICIT;
      let set = 'v !== undefined && v !== null';
      if (!alwaysWhenSet) {
        set +=
          is64Bit(scalar) || scalar === ScalarType.BYTES
            ? ` && !${helper(isZero)}(v, ${scalar})`
            : ` && v !== 0 && v !== '' && v !== false`;
      }
      return `  v = ${get}; if (${set}) { ${tagSource(field.number, wireTypeOf(scalar))} ${scalarSource(scalar, helper, renew)} }`;
    }
    case 'message':
      return `  v = ${get}; if (v !== undefined && v !== null) { ${subMessageSource(field.message, field.number, helper, renew)} }`;
    case 'list': {
      if (field.listKind === 'message') {
        return `  { const list = ${get}; if (Array.isArray(list)) for (let i = 0; i < list.length; i++) { v = list[i]; ${subMessageSource(field.message, field.number, helper, renew)} } }`;
      }
      const scalar = field.listKind === 'enum' ? ScalarType.INT32 : field.scalar;
      const wire = wireTypeOf(scalar);
      const write = helper(scalarWriter(scalar));
      if (field.packed && wire !== WIRE_BYTES) {
        return `  { const list = ${get}; if (Array.isArray(list) && list.length > 0) { w.pos = p; w.raw(${helper(tagBytes(field.number, WIRE_BYTES))}); const at = w.beginDelimited(); for (let i = 0; i < list.length; i++) ${write}(list[i], w); w.endDelimited(at); b = w.buf; p = w.pos; ${renew} } }`;
      }
      return `  { const list = ${get}; if (Array.isArray(list) && list.length > 0) { w.pos = p; const tag = ${helper(tagBytes(field.number, wire))}; for (let i = 0; i < list.length; i++) { w.raw(tag); ${write}(list[i], w); } b = w.buf; p = w.pos; ${renew} } }`;
    }
    case 'map':
      return `  w.pos = p; ${helper(mapWriter(field))}(${get}, w); b = w.buf; p = w.pos; ${renew}`;
  }
}

/** FieldMask (paths in the generated code) and the google.protobuf.*Value wrappers (bare values there). */
function specialMessageWriter(desc: DescMessage, tag: Uint8Array): (value: unknown, w: ProtoWriter) => void {
  if (desc.typeName === 'google.protobuf.FieldMask') {
    const pathTag = tagBytes(1, WIRE_BYTES);
    return (value, w) => {
      w.raw(tag);
      const at = w.beginDelimited();
      for (const path of value as string[]) {
        w.raw(pathTag);
        w.string(path);
      }
      w.endDelimited(at);
    };
  }
  const wrapped = wrapperScalar(desc)!;
  // The wrapper holds its value as field 1, left out when zero.
  const encodeValue = scalarWriter(wrapped);
  const inner = tagBytes(1, wireTypeOf(wrapped));
  return (value, w) => {
    w.raw(tag);
    const at = w.beginDelimited();
    if (!isZero(value, wrapped)) {
      w.raw(inner);
      encodeValue(value, w);
    }
    w.endDelimited(at);
  };
}

/** Encodes a sub-message field `value` (set), for map values: as subMessageSource's code does. */
function subMessageWriter(desc: DescMessage, tag: Uint8Array): (value: unknown, w: ProtoWriter) => void {
  if (desc.typeName === 'google.protobuf.FieldMask' || wrapperScalar(desc) !== undefined) {
    return specialMessageWriter(desc, tag);
  }
  const sub = compile(desc);
  return (value, w) => {
    w.raw(tag);
    const at = w.beginDelimited();
    sub.body(value, w);
    w.endDelimited(at);
  };
}

/** Map entries are messages {key = 1, value = 2}; the generated code holds a plain object (or a Map). */
function mapWriter(field: DescField & { fieldKind: 'map' }): (v: unknown, w: ProtoWriter) => void {
  const keyWrite = scalarWriter(field.mapKey);
  const keyTag = tagBytes(1, wireTypeOf(field.mapKey));
  const entryTag = tagBytes(field.number, WIRE_BYTES);
  let valueWrite: (v: unknown, w: ProtoWriter) => void;
  if (field.mapKind === 'message') {
    valueWrite = subMessageWriter(field.message, tagBytes(2, WIRE_BYTES));
  } else {
    const scalar = field.mapKind === 'enum' ? ScalarType.INT32 : field.scalar;
    const tag = tagBytes(2, wireTypeOf(scalar));
    const write = scalarWriter(scalar);
    valueWrite = (v, w) => {
      w.raw(tag);
      write(v, w);
    };
  }
  const numericKey = field.mapKey !== ScalarType.STRING && field.mapKey !== ScalarType.BOOL;
  return (v, w) => {
    if (v === undefined || v === null) return;
    const entries = v instanceof Map ? [...v.entries()] : Object.entries(v as object);
    for (const [k, value] of entries) {
      w.raw(entryTag);
      const at = w.beginDelimited();
      w.raw(keyTag);
      keyWrite(numericKey ? Number(k) : field.mapKey === ScalarType.BOOL ? k === true || k === 'true' : k, w);
      valueWrite(value, w);
      w.endDelimited(at);
    }
  };
}

function wireTypeOf(scalar: ScalarType): number {
  switch (scalar) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WIRE_FIXED64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return WIRE_FIXED32;
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return WIRE_BYTES;
    default:
      return WIRE_VARINT;
  }
}

/** A proto3 zero value: what an implicit-presence field leaves out. 64-bit fields may hold "0" (jstype strings). */
function isZero(v: unknown, scalar?: ScalarType): boolean {
  if (v === 0 || v === '' || v === false || v === 0n) return true;
  if (v instanceof Uint8Array) return v.length === 0;
  return v === '0' && scalar !== undefined && is64Bit(scalar);
}

function is64Bit(scalar: ScalarType): boolean {
  switch (scalar) {
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return true;
    default:
      return false;
  }
}

/** A 64-bit value as the generated code may hold it: number, decimal string (jstype JS_STRING) or bigint. */
function toNumber64(v: unknown, what: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' || typeof v === 'bigint') {
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
  }
  throw new EncodeError(`${what}: ${String(v)} is not a 64-bit integer this encoder writes`);
}

/** 64-bit unsigned values past 2^53 (hubble's --all sends 2^64-1) as decimal strings or bigints. */
function writeBigUint64(v: unknown, w: ProtoWriter): boolean {
  if (typeof v !== 'string' && typeof v !== 'bigint') return false;
  let big = BigInt(v);
  if (big <= BigInt(Number.MAX_SAFE_INTEGER) && big >= 0n) return false;
  big = BigInt.asUintN(64, big);
  w.ensure(10);
  while (big > 0x7fn) {
    w.buf[w.pos++] = Number(big & 0x7fn) | 0x80;
    big >>= 7n;
  }
  w.buf[w.pos++] = Number(big);
  return true;
}

function scalarWriter(scalar: ScalarType): (v: unknown, w: ProtoWriter) => void {
  switch (scalar) {
    case ScalarType.UINT32:
      return (v, w) => w.uint32((v as number) >>> 0);
    case ScalarType.INT32:
      return (v, w) => w.int32((v as number) | 0);
    case ScalarType.SINT32:
      return (v, w) => {
        const n = (v as number) | 0;
        w.uint32(((n << 1) ^ (n >> 31)) >>> 0);
      };
    case ScalarType.UINT64:
    case ScalarType.INT64:
      return (v, w) => {
        if (writeBigUint64(v, w)) return;
        w.uint64(toNumber64(v, 'int64'));
      };
    case ScalarType.SINT64:
      return (v, w) => {
        const n = toNumber64(v, 'sint64');
        w.uint64(n >= 0 ? n * 2 : -n * 2 - 1);
      };
    case ScalarType.FIXED32:
      return (v, w) => w.fixed32(v as number);
    case ScalarType.SFIXED32:
      return (v, w) => w.fixed32((v as number) | 0);
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return (v, w) => w.fixed64(toNumber64(v, 'fixed64'));
    case ScalarType.FLOAT:
      return (v, w) => w.float(v as number);
    case ScalarType.DOUBLE:
      return (v, w) => w.double(v as number);
    case ScalarType.BOOL:
      return (v, w) => w.uint32(v ? 1 : 0);
    case ScalarType.STRING:
      return (v, w) => {
        if (typeof v !== 'string') throw new EncodeError(`expected a string, got ${typeof v}`);
        w.string(v);
      };
    case ScalarType.BYTES:
      return (v, w) => {
        if (!(v instanceof Uint8Array)) throw new EncodeError(`expected bytes, got ${typeof v}`);
        w.bytes(v);
      };
  }
}

/** The scalar a google.protobuf wrapper holds, for the wrappers the generated code turns into bare values. */
function wrapperScalar(desc: DescMessage): ScalarType | undefined {
  switch (desc.typeName) {
    case 'google.protobuf.BoolValue':
      return ScalarType.BOOL;
    case 'google.protobuf.Int32Value':
      return ScalarType.INT32;
    case 'google.protobuf.UInt32Value':
      return ScalarType.UINT32;
    case 'google.protobuf.Int64Value':
      return ScalarType.INT64;
    case 'google.protobuf.UInt64Value':
      return ScalarType.UINT64;
    case 'google.protobuf.StringValue':
      return ScalarType.STRING;
    case 'google.protobuf.BytesValue':
      return ScalarType.BYTES;
    case 'google.protobuf.FloatValue':
      return ScalarType.FLOAT;
    case 'google.protobuf.DoubleValue':
      return ScalarType.DOUBLE;
    default:
      return undefined;
  }
}

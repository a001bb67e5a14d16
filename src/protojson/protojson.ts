// Hubble's JSON output: the proto3 JSON mapping exactly as Go's protojson (and so
// `hubble observe -o json`) prints it. Not hand-written: ts-proto messages are encoded to
// bytes, decoded by @bufbuild/protobuf against our descriptor set, and printed by its
// conformant toJson. Meant for CLI output and exporters, not for the per-packet path.
import {
  createFileRegistry,
  fromBinary,
  fromJson,
  toBinary,
  toJson,
  type DescMessage,
  type FileRegistry,
  type JsonValue,
} from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { loadDescriptorSet } from '../api/descriptors.js';
import { Flow } from '../api/flow/flow.js';
import { GetFlowsResponse } from '../api/observer/observer.js';

export type { JsonValue } from '@bufbuild/protobuf';

/** Anything with a ts-proto style `encode`: every generated message namespace fits. */
export interface MessageEncoder<T> {
  encode(message: T): { finish(): Uint8Array };
}

export type ProtoJsonErrorCode = 'UNKNOWN_MESSAGE_TYPE' | 'INVALID_WIRE_DATA' | 'INVALID_JSON';

/** The one error type this module throws; `code` is stable, the message says what to fix. */
export class ProtoJsonError extends Error {
  readonly code: ProtoJsonErrorCode;

  constructor(code: ProtoJsonErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProtoJsonError';
    this.code = code;
  }
}

/** ts-proto's property name for a proto field: snake_case becomes camelCase, other names stay. */
export function propertyName(protoName: string, jsonName: string): string {
  return protoName.includes('_') ? jsonName : protoName;
}

let registry: FileRegistry | undefined;

/** All messages of our protos plus the well-known types, for Any and nested lookups. */
export function protoJsonRegistry(): FileRegistry {
  registry ??= createFileRegistry(fromBinary(FileDescriptorSetSchema, loadDescriptorSet()));
  return registry;
}

function messageDescriptor(typeName: string): DescMessage {
  const desc = protoJsonRegistry().getMessage(typeName);
  if (desc === undefined) {
    throw new ProtoJsonError(
      'UNKNOWN_MESSAGE_TYPE',
      `unknown message type "${typeName}": use a fully qualified name such as "flow.Flow" from proto/`,
    );
  }
  return desc;
}

/**
 * Prints binary-encoded `typeName` (e.g. "flow.Flow") as protojson with proto field names:
 * enums by name, unset fields left out, 64-bit integers as strings, RFC 3339 timestamps.
 */
export function toProtoJson(typeName: string, bytes: Uint8Array): JsonValue {
  const desc = messageDescriptor(typeName);
  let message;
  try {
    message = fromBinary(desc, bytes);
  } catch (cause) {
    throw new ProtoJsonError('INVALID_WIRE_DATA', `bytes are not a valid ${typeName}: ${String(cause)}`, { cause });
  }
  return inDeclarationOrder(desc, toJson(desc, message, { useProtoFieldName: true, registry: protoJsonRegistry() }));
}

/**
 * Go's protojson writes a message's fields in the order the .proto declares them (flow.Flow: time, uuid, emitter,
 * verdict, ...), not by number as @bufbuild/protobuf does; hubble's JSON, and anything comparing it by text, has
 * that order. Well-known types keep their own JSON forms.
 */
function inDeclarationOrder(desc: DescMessage, json: JsonValue): JsonValue {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return json;
  if (desc.typeName.startsWith('google.protobuf.')) return json;
  const out: Record<string, JsonValue> = {};
  for (const field of desc.fields) {
    const value = json[field.name];
    if (value === undefined) continue;
    if (field.fieldKind === 'message') {
      out[field.name] = inDeclarationOrder(field.message, value);
    } else if (field.fieldKind === 'list' && field.listKind === 'message' && Array.isArray(value)) {
      out[field.name] = value.map((item) => inDeclarationOrder(field.message, item));
    } else if (
      field.fieldKind === 'map' &&
      field.mapKind === 'message' &&
      typeof value === 'object' &&
      value !== null
    ) {
      out[field.name] = Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, inDeclarationOrder(field.message, v as JsonValue)]),
      );
    } else {
      out[field.name] = value;
    }
  }
  return out;
}

/**
 * Parses protojson (proto or camelCase field names) into the binary encoding of `typeName`. Unknown fields are
 * refused unless `ignoreUnknownFields` (JSON written by a newer Hubble).
 */
export function fromProtoJson(
  typeName: string,
  json: JsonValue,
  options: { ignoreUnknownFields?: boolean } = {},
): Uint8Array {
  const desc = messageDescriptor(typeName);
  try {
    return toBinary(
      desc,
      fromJson(desc, json, {
        registry: protoJsonRegistry(),
        ignoreUnknownFields: options.ignoreUnknownFields ?? false,
      }),
    );
  } catch (cause) {
    throw new ProtoJsonError('INVALID_JSON', `JSON is not a valid ${typeName}: ${String(cause)}`, { cause });
  }
}

/** Prints any generated message: `messageToJson(Flow, "flow.Flow", flow)`. */
export function messageToJson<T>(encoder: MessageEncoder<T>, typeName: string, message: T): JsonValue {
  return toProtoJson(typeName, encoder.encode(message).finish());
}

export function flowToJson(flow: Flow): JsonValue {
  return messageToJson(Flow, 'flow.Flow', flow);
}

/** One line of `hubble observe -o json`: `{"flow": {...}, "node_name": ..., "time": ...}`. */
export function getFlowsResponseToJson(response: GetFlowsResponse): JsonValue {
  return messageToJson(GetFlowsResponse, 'observer.GetFlowsResponse', response);
}

/**
 * JSON as Go's json.Encoder writes it: compact, one line, with <, > and & (and the JS line
 * separators) escaped, because hubble's encoder (and the exporter's) leaves HTML escaping on.
 */
export function goJsonLine(value: JsonValue): string {
  return `${goJsonEscape(JSON.stringify(value))}\n`;
}

/** Compact JSON text as Go's json.Encoder escapes it (see goJsonLine). */
export function goJsonEscape(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

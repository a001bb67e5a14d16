// Agent notifications (AgentEvent payloads): the type numbers, the names the monitor prints, and the JSON message
// shapes Cilium writes for each, with a codec so sources can build them and the parser can read them back.

import { DatapathDecodeError } from './datapath/decodeError.js';
import type { AgentEvent } from './types.js';

/** Agent notification types; numbers as Cilium's monitor API numbers them (not flow.AgentEventType's). */
export const AgentNotification = {
  UNSPEC: 0,
  GENERIC: 1,
  START: 2,
  ENDPOINT_REGENERATE_SUCCESS: 3,
  ENDPOINT_REGENERATE_FAIL: 4,
  POLICY_UPDATED: 5,
  POLICY_DELETED: 6,
  ENDPOINT_CREATED: 7,
  ENDPOINT_DELETED: 8,
  IPCACHE_UPSERTED: 9,
  IPCACHE_DELETED: 10,
  SERVICE_UPSERTED: 11,
  SERVICE_DELETED: 12,
} as const;

const agentNotificationTexts: readonly string[] = [
  'unspecified',
  'Message',
  'Cilium agent started',
  'Endpoint regenerated',
  'Failed endpoint regeneration',
  'Policy updated',
  'Policy deleted',
  'Endpoint created',
  'Endpoint deleted',
  'IPCache entry upserted',
  'IPCache entry deleted',
  'Service upserted',
  'Service deleted',
];

/** How `cilium monitor` names a notification type ("Policy updated"), or the number as text. */
export function agentNotificationText(type: number): string {
  return agentNotificationTexts[type] ?? String(type);
}

// JSON shapes, with Cilium's JSON key names (kebab-case and snake_case as Go's struct tags have them).

export interface TimeNotification {
  /** RFC 3339 with nanoseconds. */
  time: string;
}

export interface PolicyUpdateNotification {
  labels?: string[];
  revision?: number;
  rule_count: number;
}

export interface EndpointRegenNotification {
  id?: number;
  labels?: string[];
  error?: string;
}

export interface EndpointNotification extends EndpointRegenNotification {
  'pod-name'?: string;
  namespace?: string;
}

export interface IPCacheNotification {
  cidr: string;
  id: number;
  'old-id'?: number;
  'host-ip'?: string;
  'old-host-ip'?: string;
  'encrypt-key': number;
  namespace?: string;
  'pod-name'?: string;
}

export interface ServiceUpsertNotificationAddr {
  /** null when Cilium had no address (Go's nil net.IP). */
  ip: string | null;
  port: number;
}

export interface ServiceUpsertNotification {
  id: number;
  'frontend-address': ServiceUpsertNotificationAddr;
  'backend-addresses': ServiceUpsertNotificationAddr[] | null;
  type?: string;
  'traffic-policy'?: string;
  name?: string;
  namespace?: string;
}

export interface ServiceDeleteNotification {
  id: number;
}

/** A decoded notification, discriminated by `kind` (the shape) with the original `type` number kept. */
export type AgentNotifyMessage =
  | { kind: 'start'; type: number; notification: TimeNotification }
  | { kind: 'policy'; type: number; notification: PolicyUpdateNotification }
  | { kind: 'endpointRegenerate'; type: number; notification: EndpointRegenNotification }
  | { kind: 'endpoint'; type: number; notification: EndpointNotification }
  | { kind: 'ipcache'; type: number; notification: IPCacheNotification }
  | { kind: 'serviceUpsert'; type: number; notification: ServiceUpsertNotification }
  | { kind: 'serviceDelete'; type: number; notification: ServiceDeleteNotification }
  /** A type this code does not shape (generic messages, newer types): the JSON text as sent. */
  | { kind: 'unknown'; type: number; notification: string };

const kindByType: readonly (AgentNotifyMessage['kind'] | undefined)[] = [
  undefined,
  undefined,
  'start',
  'endpointRegenerate',
  'endpointRegenerate',
  'policy',
  'policy',
  'endpoint',
  'endpoint',
  'ipcache',
  'ipcache',
  'serviceUpsert',
  'serviceDelete',
];

/** Which shape a notification type carries; 'unknown' for types without one. */
export function agentNotificationKind(type: number): AgentNotifyMessage['kind'] {
  return kindByType[type] ?? 'unknown';
}

/** Serializes a notification into the AgentEvent payload sources publish (JSON text as Cilium writes it). */
export function encodeAgentNotify(message: AgentNotifyMessage): AgentEvent {
  const text = message.kind === 'unknown' ? message.notification : JSON.stringify(message.notification);
  return { kind: 'agent', type: message.type, message: text };
}

function invalid(what: string): never {
  throw new DatapathDecodeError('INVALID_FIELD', `agent notification: ${what}`);
}

type Json = Record<string, unknown>;

function optionalString(o: Json, key: string): void {
  if (o[key] !== undefined && typeof o[key] !== 'string') invalid(`"${key}" must be a string`);
}

function requiredNumber(o: Json, key: string): void {
  if (typeof o[key] !== 'number') invalid(`"${key}" must be a number`);
}

function optionalNumber(o: Json, key: string): void {
  if (o[key] !== undefined && typeof o[key] !== 'number') invalid(`"${key}" must be a number`);
}

function optionalStrings(o: Json, key: string): void {
  const v = o[key];
  if (v !== undefined && v !== null && !(Array.isArray(v) && v.every((s) => typeof s === 'string'))) {
    invalid(`"${key}" must be a list of strings`);
  }
}

function checkAddr(v: unknown, where: string): void {
  if (typeof v !== 'object' || v === null) invalid(`"${where}" must be an object`);
  const o = v as Json;
  if (o.ip !== null && typeof o.ip !== 'string') invalid(`"${where}.ip" must be a string`);
  requiredNumber(o, 'port');
}

/**
 * Reads an AgentEvent payload back into its typed shape. Types without a shape come back as 'unknown' with the
 * text untouched; a shaped type whose JSON is malformed or mistyped throws DatapathDecodeError (INVALID_FIELD).
 */
export function decodeAgentNotify(event: Pick<AgentEvent, 'type' | 'message'>): AgentNotifyMessage {
  const kind = agentNotificationKind(event.type);
  if (kind === 'unknown') return { kind, type: event.type, notification: event.message };
  let parsed: unknown;
  try {
    parsed = JSON.parse(event.message);
  } catch {
    invalid(`type ${event.type} message is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    invalid(`type ${event.type} message is not a JSON object`);
  const o = parsed as Json;
  switch (kind) {
    case 'start':
      if (typeof o.time !== 'string') invalid('"time" must be a string');
      return { kind, type: event.type, notification: o as unknown as TimeNotification };
    case 'policy':
      optionalStrings(o, 'labels');
      optionalNumber(o, 'revision');
      requiredNumber(o, 'rule_count');
      return { kind, type: event.type, notification: o as unknown as PolicyUpdateNotification };
    case 'endpointRegenerate':
    case 'endpoint':
      optionalNumber(o, 'id');
      optionalStrings(o, 'labels');
      optionalString(o, 'error');
      optionalString(o, 'pod-name');
      optionalString(o, 'namespace');
      return kind === 'endpoint'
        ? { kind, type: event.type, notification: o as EndpointNotification }
        : { kind, type: event.type, notification: o as EndpointRegenNotification };
    case 'ipcache':
      if (typeof o.cidr !== 'string') invalid('"cidr" must be a string');
      requiredNumber(o, 'id');
      optionalNumber(o, 'old-id');
      optionalString(o, 'host-ip');
      optionalString(o, 'old-host-ip');
      optionalNumber(o, 'encrypt-key');
      optionalString(o, 'namespace');
      optionalString(o, 'pod-name');
      return { kind, type: event.type, notification: o as unknown as IPCacheNotification };
    case 'serviceUpsert': {
      requiredNumber(o, 'id');
      checkAddr(o['frontend-address'], 'frontend-address');
      const backends = o['backend-addresses'];
      if (backends !== null && backends !== undefined) {
        if (!Array.isArray(backends)) invalid('"backend-addresses" must be a list');
        backends.forEach((b, i) => checkAddr(b, `backend-addresses[${i}]`));
      }
      for (const key of ['type', 'traffic-policy', 'name', 'namespace']) optionalString(o, key);
      return { kind, type: event.type, notification: o as unknown as ServiceUpsertNotification };
    }
    case 'serviceDelete':
      requiredNumber(o, 'id');
      return { kind, type: event.type, notification: o as unknown as ServiceDeleteNotification };
  }
}

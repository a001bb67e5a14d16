// Turns an agent notification (AgentEvent monitor payload) into Hubble's flow.AgentEvent, per notification type as
// Hubble does; anything without a known shape is passed on as AgentEventUnknown rather than dropped.

import {
  AgentEvent as FlowAgentEvent,
  AgentEventType,
  type ServiceUpsertNotificationAddr as FlowServiceAddr,
} from '../../api/flow/flow.js';
import type { Timestamp } from '../../api/google/protobuf/timestamp.js';
import {
  AgentNotification,
  decodeAgentNotify,
  type AgentNotifyMessage,
  type ServiceUpsertNotificationAddr,
} from '../../monitor/agentNotify.js';
import { DatapathDecodeError } from '../../monitor/datapath/decodeError.js';
import type { AgentEvent } from '../../monitor/types.js';

/** Monitor notification number -> flow.AgentEventType (the two enums number differently). */
const flowTypeByNotification: Readonly<Record<number, AgentEventType>> = {
  [AgentNotification.START]: AgentEventType.AGENT_STARTED,
  [AgentNotification.POLICY_UPDATED]: AgentEventType.POLICY_UPDATED,
  [AgentNotification.POLICY_DELETED]: AgentEventType.POLICY_DELETED,
  [AgentNotification.ENDPOINT_REGENERATE_SUCCESS]: AgentEventType.ENDPOINT_REGENERATE_SUCCESS,
  [AgentNotification.ENDPOINT_REGENERATE_FAIL]: AgentEventType.ENDPOINT_REGENERATE_FAILURE,
  [AgentNotification.ENDPOINT_CREATED]: AgentEventType.ENDPOINT_CREATED,
  [AgentNotification.ENDPOINT_DELETED]: AgentEventType.ENDPOINT_DELETED,
  [AgentNotification.IPCACHE_UPSERTED]: AgentEventType.IPCACHE_UPSERTED,
  [AgentNotification.IPCACHE_DELETED]: AgentEventType.IPCACHE_DELETED,
  [AgentNotification.SERVICE_UPSERTED]: AgentEventType.SERVICE_UPSERTED,
  [AgentNotification.SERVICE_DELETED]: AgentEventType.SERVICE_DELETED,
};

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Parses an RFC 3339 time keeping nanoseconds; undefined when it is not one (Hubble then leaves the time unset). */
export function parseRfc3339(text: string): Timestamp | undefined {
  const m = RFC3339.exec(text);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, frac, zulu, sign, oh, om] = m;
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return undefined;
  const utcMillis = Date.UTC(Number(y), month - 1, day, hour, minute, second);
  if (new Date(utcMillis).getUTCDate() !== day) return undefined;
  let seconds = Math.floor(utcMillis / 1000);
  if (zulu === undefined) {
    const offset = (Number(oh) * 60 + Number(om)) * 60;
    seconds += sign === '+' ? -offset : offset;
  }
  const nanos = frac === undefined ? 0 : Number(frac.padEnd(9, '0'));
  return { seconds, nanos };
}

function unknown(type: number, notification: string): FlowAgentEvent {
  return FlowAgentEvent.fromPartial({
    type: AgentEventType.AGENT_EVENT_UNKNOWN,
    unknown: { type: String(type), notification },
  });
}

function serviceAddr(addr: ServiceUpsertNotificationAddr, nilText: string): FlowServiceAddr {
  // Go prints a missing frontend IP as "<nil>" and Hubble passes that on; a missing backend IP becomes "".
  return { ip: addr.ip ?? nilText, port: addr.port };
}

function toFlow(message: Exclude<AgentNotifyMessage, { kind: 'unknown' }>, type: AgentEventType): FlowAgentEvent {
  switch (message.kind) {
    case 'start':
      return FlowAgentEvent.fromPartial({ type, agentStart: { time: parseRfc3339(message.notification.time) } });
    case 'policy': {
      const n = message.notification;
      return FlowAgentEvent.fromPartial({
        type,
        policyUpdate: { labels: n.labels ?? [], revision: n.revision ?? 0, ruleCount: n.rule_count },
      });
    }
    case 'endpointRegenerate': {
      const n = message.notification;
      return FlowAgentEvent.fromPartial({
        type,
        endpointRegenerate: { id: n.id ?? 0, labels: n.labels ?? [], error: n.error ?? '' },
      });
    }
    case 'endpoint': {
      const n = message.notification;
      return FlowAgentEvent.fromPartial({
        type,
        endpointUpdate: {
          id: n.id ?? 0,
          labels: n.labels ?? [],
          error: n.error ?? '',
          podName: n['pod-name'] ?? '',
          namespace: n.namespace ?? '',
        },
      });
    }
    case 'ipcache': {
      const n = message.notification;
      return FlowAgentEvent.fromPartial({
        type,
        ipcacheUpdate: {
          cidr: n.cidr,
          identity: n.id,
          oldIdentity: n['old-id'],
          hostIp: n['host-ip'] ?? '',
          oldHostIp: n['old-host-ip'] ?? '',
          encryptKey: n['encrypt-key'] ?? 0,
          namespace: n.namespace ?? '',
          podName: n['pod-name'] ?? '',
        },
      });
    }
    case 'serviceUpsert': {
      const n = message.notification;
      // Cilium's JSON carries one traffic policy, the external one; Hubble fills both fields from it.
      const trafficPolicy = n['traffic-policy'] ?? '';
      return FlowAgentEvent.fromPartial({
        type,
        serviceUpsert: {
          id: n.id,
          frontendAddress: serviceAddr(n['frontend-address'], '<nil>'),
          backendAddresses: (n['backend-addresses'] ?? []).map((b) => serviceAddr(b, '')),
          type: n.type ?? '',
          trafficPolicy,
          extTrafficPolicy: trafficPolicy,
          name: n.name ?? '',
          namespace: n.namespace ?? '',
        },
      });
    }
    case 'serviceDelete':
      return FlowAgentEvent.fromPartial({ type, serviceDelete: { id: message.notification.id } });
  }
}

/**
 * Decodes an agent notification. Generic messages, unknown types and notifications whose JSON does not fit their
 * type become AGENT_EVENT_UNKNOWN carrying the type number and the text, so nothing a client could want is lost.
 */
export function decodeAgentEvent(payload: Pick<AgentEvent, 'type' | 'message'>): FlowAgentEvent {
  const flowType = flowTypeByNotification[payload.type];
  if (flowType === undefined) return unknown(payload.type, payload.message);
  let message: AgentNotifyMessage;
  try {
    message = decodeAgentNotify(payload);
  } catch (error) {
    if (error instanceof DatapathDecodeError) return unknown(payload.type, payload.message);
    throw error;
  }
  if (message.kind === 'unknown') return unknown(payload.type, payload.message);
  return toFlow(message, flowType);
}

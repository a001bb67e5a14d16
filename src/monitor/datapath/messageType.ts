// Cilium monitor message type numbers (first byte of every datapath message) and the names `cilium monitor --type` and hubble use.

/** 0-128 are datapath (perf ring) messages, 129-255 agent-level events. */
export const MessageType = {
  UNSPEC: 0,
  DROP: 1,
  DEBUG: 2,
  CAPTURE: 3,
  TRACE: 4,
  POLICY_VERDICT: 5,
  RECORDER_CAPTURE: 6,
  TRACE_SOCK: 7,
  ACCESS_LOG: 129,
  AGENT: 130,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

const messageTypeNames: Readonly<Record<number, string>> = {
  [MessageType.DROP]: 'drop',
  [MessageType.DEBUG]: 'debug',
  [MessageType.CAPTURE]: 'capture',
  [MessageType.TRACE]: 'trace',
  [MessageType.POLICY_VERDICT]: 'policy-verdict',
  [MessageType.RECORDER_CAPTURE]: 'recorder',
  [MessageType.TRACE_SOCK]: 'trace-sock',
  [MessageType.ACCESS_LOG]: 'l7',
  [MessageType.AGENT]: 'agent',
};

/** The monitor's name for a message type, or the number as text when it has none (as upstream prints it). */
export function messageTypeName(type: number): string {
  return messageTypeNames[type] ?? String(type);
}

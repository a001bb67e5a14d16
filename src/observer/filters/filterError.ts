// The one error a bad flow filter raises: which FlowFilter field, which value, and why it cannot be used.

export class FilterError extends Error {
  /** Stable code for callers that map errors (the Observer answers INVALID_ARGUMENT). */
  readonly code = 'INVALID_FLOW_FILTER';

  /**
   * @param field the proto field name, e.g. "source_ip"
   * @param value the offending value; strings are quoted in the message, numbers are not
   * @param reason what is wrong, phrased to follow the value ("is not an IP address or CIDR")
   */
  constructor(
    readonly field: string,
    readonly value: string | number | undefined,
    readonly reason: string,
  ) {
    const shown = value === undefined ? '' : typeof value === 'string' ? `${quoted(value)} ` : `${value} `;
    super(`${field}: ${shown}${reason}`);
    this.name = 'FilterError';
  }
}

/** Values longer than this are shown by their start and their length: a message quotes, it does not echo. */
const SHOWN_VALUE_MAX = 200;

function quoted(value: string): string {
  if (value.length <= SHOWN_VALUE_MAX) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, SHOWN_VALUE_MAX / 2))}… (${value.length} characters)`;
}

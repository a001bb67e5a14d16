// Peer addresses as the Peer service carries them: "host:port" (IPv6 in brackets), as Go's net.JoinHostPort writes
// them and Hubble Relay splits them, or "unix:///path" for a node reached over its local socket.
import { canonicalIp } from '../packet/ipAddress.js';

export interface HostPort {
  /** An IP address (canonical text, IPv6 without brackets) or a DNS name. */
  host: string;
  /** undefined when the text gave none. */
  port: number | undefined;
}

// RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens, up to 253 characters.
const DNS_NAME =
  /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[-A-Za-z0-9]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*\.?$/;

/** True when `text` is a DNS name a TLS certificate could be issued for. */
export function isDnsName(text: string): boolean {
  return DNS_NAME.test(text);
}

/**
 * Splits "10.0.0.1:4244", "[fd00::1]:4244", "node-1.example:4244", and, when `portOptional`, "10.0.0.1", "fd00::1",
 * "[fd00::1]" or "node-1.example". Returns a message saying what is wrong instead when it is none of these.
 */
export function parseHostPort(text: string, portOptional = false): HostPort | { error: string } {
  let hostText: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    hostText = bracketed[1]!;
    portText = bracketed[2];
    if (canonicalIp(hostText) === undefined || !hostText.includes(':')) {
      return { error: `"${text}": only IPv6 addresses go in brackets` };
    }
  } else {
    const colons = text.split(':').length - 1;
    if (colons > 1) {
      // More than one colon without brackets: an IPv6 address with no port, which is all it can mean.
      hostText = text;
      portText = undefined;
    } else {
      const at = text.lastIndexOf(':');
      hostText = at < 0 ? text : text.slice(0, at);
      portText = at < 0 ? undefined : text.slice(at + 1);
    }
  }
  const ip = canonicalIp(hostText);
  if (ip === undefined && !isDnsName(hostText)) {
    return { error: `"${hostText}" is not an IP address or host name` };
  }
  if (portText === undefined) {
    if (!portOptional) return { error: `"${text}" has no port (write it as ${joinHostPort(ip ?? hostText, 4244)})` };
    return { host: ip ?? hostText, port: undefined };
  }
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) return { error: `"${portText}" is not a port number (1-65535)` };
  return { host: ip ?? hostText, port };
}

/** "host:port", with IPv6 hosts in brackets. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** True for hosts that mean "every address of this machine" in a listen address. */
export function isWildcardHost(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::' || host === '[::]';
}

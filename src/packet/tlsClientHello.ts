// Reads the server name (SNI, RFC 6066) from a TLS ClientHello at the start of a TCP payload, so a connection's flows
// can name the server the client asked for while the rest of TLS stays opaque. Only what lies in the given bytes is
// read (a ClientHello cut by the segment yields the name if the extension came before the cut); never throws.
import { uint16At } from './format.js';

/** TLS record content type "handshake", and handshake type "client_hello". */
const RECORD_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXTENSION_SERVER_NAME = 0;
const NAME_TYPE_HOST_NAME = 0;
/** A DNS name is at most 253 characters as text. */
const MAX_HOST_NAME = 253;

/** Whether data[start, end) begins like a TLS record carrying a ClientHello (one comparison for most payloads). */
export function startsLikeClientHello(data: Uint8Array, start: number, end: number): boolean {
  return (
    end - start >= 6 &&
    data[start] === RECORD_HANDSHAKE &&
    data[start + 1] === 3 &&
    data[start + 2]! <= 4 &&
    data[start + 5] === HANDSHAKE_CLIENT_HELLO
  );
}

/**
 * The host name a ClientHello in data[start, end) asks for, lowercased; undefined when the bytes are no ClientHello,
 * it carries no server_name extension, or the name is not a plausible DNS name.
 */
export function clientHelloServerName(data: Uint8Array, start: number, end: number): string | undefined {
  if (end > data.length || !startsLikeClientHello(data, start, end)) return undefined;
  // The record, then the handshake header: type (1), length (3), then the ClientHello body.
  const recordEnd = Math.min(end, start + 5 + uint16At(data, start + 3));
  let p = start + 5 + 4;
  p += 2 + 32; // legacy_version, random
  if (p + 1 > recordEnd) return undefined;
  p += 1 + data[p]!; // legacy_session_id
  if (p + 2 > recordEnd) return undefined;
  p += 2 + uint16At(data, p); // cipher_suites
  if (p + 1 > recordEnd) return undefined;
  p += 1 + data[p]!; // legacy_compression_methods
  if (p + 2 > recordEnd) return undefined;
  const extensionsEnd = Math.min(recordEnd, p + 2 + uint16At(data, p));
  p += 2;
  while (p + 4 <= extensionsEnd) {
    const type = uint16At(data, p);
    const length = uint16At(data, p + 2);
    const body = p + 4;
    if (type === EXTENSION_SERVER_NAME) return hostNameIn(data, body, Math.min(extensionsEnd, body + length));
    p = body + length;
  }
  return undefined;
}

/** The first host_name entry of a server_name extension's body. */
function hostNameIn(data: Uint8Array, start: number, end: number): string | undefined {
  if (start + 2 > end) return undefined;
  const listEnd = Math.min(end, start + 2 + uint16At(data, start));
  let p = start + 2;
  while (p + 3 <= listEnd) {
    const nameType = data[p]!;
    const length = uint16At(data, p + 1);
    const name = p + 3;
    if (name + length > listEnd) return undefined;
    if (nameType === NAME_TYPE_HOST_NAME) return hostNameText(data, name, length);
    p = name + length;
  }
  return undefined;
}

/** Letters, digits, '-', '_' and '.', as a lowercase name without a trailing dot; undefined for anything else. */
function hostNameText(data: Uint8Array, at: number, length: number): string | undefined {
  if (length === 0 || length > MAX_HOST_NAME + 1) return undefined;
  let text = '';
  for (let i = 0; i < length; i++) {
    let c = data[at + i]!;
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f || c === 0x2e;
    if (!ok) return undefined;
    text += String.fromCharCode(c);
  }
  if (text.endsWith('.')) text = text.slice(0, -1);
  return text.length === 0 || text.length > MAX_HOST_NAME ? undefined : text;
}

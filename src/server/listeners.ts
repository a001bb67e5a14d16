// Where a gRPC server listens: the local unix socket and an optional TCP address with TLS or mTLS.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import type * as http2 from 'node:http2';
import { connect } from 'node:net';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ConfigError } from './config.js';

export interface TlsFiles {
  certFile?: string | undefined;
  keyFile?: string | undefined;
  /** Client CA bundles: when given, clients must present a certificate signed by one of them (mTLS). */
  clientCaFiles?: readonly string[] | undefined;
}

/** Builds server credentials from PEM files; `undefined` TLS means plaintext (only when explicitly allowed). */
export function serverCredentials(tls: TlsFiles | undefined): grpc.ServerCredentials {
  if (tls === undefined) return grpc.ServerCredentials.createInsecure();
  if (!tls.certFile || !tls.keyFile) {
    throw new ConfigError(
      'TLS needs both --tls-cert-file and --tls-key-file (or pass --disable-server-tls to serve plaintext)',
    );
  }
  const cert = readPem(tls.certFile, 'certificate');
  const key = readPem(tls.keyFile, 'private key');
  const cas = tls.clientCaFiles ?? [];
  const clientCa = cas.length > 0 ? Buffer.concat(cas.map((f) => readPem(f, 'client CA'))) : null;
  return grpc.ServerCredentials.createSsl(clientCa, [{ cert_chain: cert, private_key: key }], clientCa !== null);
}

/** Reads a PEM file; ConfigError naming the file and what it was for when it is missing or not PEM. */
export function readPem(path: string, what: string): Buffer {
  try {
    const pem = readFileSync(path);
    if (!pem.includes('-----BEGIN')) throw new Error('not a PEM file');
    return pem;
  } catch (err) {
    throw new ConfigError(`cannot use ${what} file ${path}: ${(err as Error).message}`);
  }
}

/**
 * Reads a certificate as TLS will parse it; ConfigError naming the setting and the file otherwise. A private key given
 * as a CA is PEM all the same, and would otherwise surface at the first handshake as an OpenSSL error.
 */
export function readCertificate(setting: string, path: string, what: string): { pem: Buffer; x509: X509Certificate } {
  const pem = readPem(path, what);
  try {
    return { pem, x509: new X509Certificate(pem) };
  } catch {
    throw new ConfigError(`--${setting}: ${path} holds no PEM certificate`);
  }
}

/** Reads a certificate and its private key, refusing a swapped or mismatched pair before any handshake does. */
export function readKeyPair(
  certSetting: string,
  certPath: string,
  keySetting: string,
  keyPath: string,
  what: string,
): { cert: Buffer; key: Buffer } {
  const cert = readCertificate(certSetting, certPath, `${what} certificate`);
  const key = readPem(keyPath, `${what} private key`);
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(key);
  } catch {
    throw new ConfigError(`--${keySetting}: ${keyPath} holds no unencrypted PEM private key`);
  }
  if (!cert.x509.checkPrivateKey(keyObject)) {
    throw new ConfigError(`--${keySetting}: ${keyPath} is not the private key of ${certPath} (--${certSetting})`);
  }
  return { cert: cert.pem, key };
}

/** A server's TLS settings as a command names them, and what was given for each. */
export interface ServerTlsSettings {
  /** Who serves, for the refusal: "--listen-address", "the relay". */
  server: string;
  /** What the files are, for the refusals: "server" ("server certificate"...), "client CA"; "relay server"... */
  what: { pair: string; clientCa: string };
  cert: [setting: string, file: string | undefined];
  key: [setting: string, file: string | undefined];
  clientCas: [setting: string, files: string[]];
}

/**
 * Checks a server's TLS files now, so a missing or wrong one stops the command with its setting and name rather than
 * the first client with a TLS error; returns them for serverCredentials.
 */
export function checkServerTls(s: ServerTlsSettings): { certFile: string; keyFile: string; clientCaFiles: string[] } {
  const [certSetting, certFile] = s.cert;
  const [keySetting, keyFile] = s.key;
  const [caSetting, clientCaFiles] = s.clientCas;
  if (!certFile || !keyFile) {
    throw new ConfigError(
      `${s.server} serves over TLS: give --${certSetting} and --${keySetting}, or --disable-server-tls to serve plaintext`,
    );
  }
  readKeyPair(certSetting, certFile, keySetting, keyFile, s.what.pair);
  for (const f of clientCaFiles) readCertificate(caSetting, f, s.what.clientCa);
  return { certFile, keyFile, clientCaFiles };
}

/** Turns ":4244", "0.0.0.0:4244", "[::1]:4244" or "localhost:4244" into a grpc-js bind target. */
export function tcpBindTarget(address: string): string {
  const m = /^(\[[^\]]*\]|[^:[\]]*):(\d{1,5})$/.exec(address);
  if (!m || Number(m[2]) > 65535) {
    throw new ConfigError(`listen address "${address}" is not HOST:PORT (e.g. :4244 or 127.0.0.1:4244)`);
  }
  const host = m[1] === '' ? '[::]' : m[1]!;
  return `${host}:${m[2]}`;
}

/**
 * Prepares a unix socket path: creates its directory and removes a stale socket left by a
 * crashed server, but refuses to take over a socket another live server still answers on.
 */
export async function prepareUnixSocket(path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
  if (!existsSync(path)) return;
  if (!statSync(path).isSocket()) {
    throw new ConfigError(`socket path ${path} exists and is not a socket; remove it or choose another --socket-path`);
  }
  const inUse = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (inUse) throw new ConfigError(`another server is already listening on ${path}`);
  unlinkSync(path);
}

/**
 * How long a connection has to send the HTTP/2 connection preface and its SETTINGS (after the TLS handshake, which
 * Node bounds at 120 s) before it is closed. grpc-js sets no limit: a connection that never sent them was held for
 * good, with its descriptor and buffers (grpc-go closes one after 120 s). gRPC clients send both on connecting.
 */
export const HANDSHAKE_TIMEOUT_MS = 20_000;

/**
 * Binds a server to a target; resolves with the bound port (0 for unix sockets). Connections that do not complete
 * the HTTP/2 handshake within `handshakeTimeoutMs` are closed.
 */
export function bind(
  server: grpc.Server,
  target: string,
  creds: grpc.ServerCredentials,
  handshakeTimeoutMs = HANDSHAKE_TIMEOUT_MS,
): Promise<number> {
  quietGrpcBindLog();
  return new Promise((resolve, reject) => {
    server.bindAsync(target, creds, (err, port) => {
      if (err) {
        reject(new ConfigError(`cannot listen on ${target}: ${describeListenError(err)}`));
        return;
      }
      limitHandshakes(server, handshakeTimeoutMs);
      resolve(port);
    });
  });
}

/** HTTP/2 servers whose sessions already have a handshake deadline. */
const handshakeLimited = new WeakSet<object>();

/**
 * Gives every new session of the server's listeners `timeoutMs` to receive the client's SETTINGS (which follow the
 * preface), destroying it otherwise. grpc-js has no hook for this: its HTTP/2 servers are reached in its private
 * `http2Servers` map (a test fails if a grpc-js upgrade moves it).
 */
function limitHandshakes(server: grpc.Server, timeoutMs: number): void {
  const listeners = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(listeners instanceof Map)) return;
  for (const listener of listeners.keys() as Iterable<http2.Http2Server | http2.Http2SecureServer>) {
    if (handshakeLimited.has(listener)) continue;
    handshakeLimited.add(listener);
    listener.on('session', (session: http2.ServerHttp2Session) => {
      const deadline = setTimeout(() => session.destroy(), timeoutMs);
      deadline.unref();
      session.once('remoteSettings', () => clearTimeout(deadline));
      session.once('close', () => clearTimeout(deadline));
    });
  }
}

const LISTEN_ERRNO = /\b(EADDRINUSE|EACCES|EADDRNOTAVAIL|ENOTFOUND|EAI_AGAIN)\b/;

/**
 * Why listening failed, in a user's words, from the errno code: the error's own, or the one a grpc-js bind error names
 * in its text ("No address added out of total 1 resolved errors: [listen EADDRINUSE: ...]").
 */
export function describeListenError(err: { code?: string | undefined; message: string }): string {
  switch (err.code ?? LISTEN_ERRNO.exec(err.message)?.[1]) {
    case 'EADDRINUSE':
      return 'the address is already in use (another process listens there)';
    case 'EACCES':
      return 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)';
    case 'EADDRNOTAVAIL':
      return 'this host has no such address';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name does not resolve';
    default:
      return err.message;
  }
}

let grpcBindLogQuiet = false;

/** grpc-js logs a failed bind on stderr itself, before the one line our ConfigError gives: drop that log line only. */
function quietGrpcBindLog(): void {
  if (grpcBindLogQuiet) return;
  grpcBindLogQuiet = true;
  grpc.setLogger({
    ...console,
    error: (...args: unknown[]) => {
      if (!String(args[0]).includes('No address added out of total')) console.error(...args);
    },
  });
}

/** Binds the unix socket and restricts it to its owner and group: the API can start recordings. */
export async function bindUnixSocket(
  server: grpc.Server,
  path: string,
  handshakeTimeoutMs = HANDSHAKE_TIMEOUT_MS,
): Promise<void> {
  await prepareUnixSocket(path);
  await bind(server, `unix://${path}`, grpc.ServerCredentials.createInsecure(), handshakeTimeoutMs);
  chmodSync(path, 0o660);
}

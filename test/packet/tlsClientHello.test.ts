import fc from 'fast-check';
import { createServer, type AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { clientHelloServerName, startsLikeClientHello } from '../../src/packet/tlsClientHello.js';

/** The first bytes a real TLS client (Node's OpenSSL) sends: its ClientHello. */
async function realClientHello(servername: string | undefined): Promise<Uint8Array> {
  let received!: (b: Buffer) => void;
  const hello = new Promise<Buffer>((r) => (received = r));
  const server = createServer((sock) =>
    sock.once('data', (d: Buffer) => {
      received(d);
      sock.destroy();
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = connect({
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    ...(servername === undefined ? {} : { servername }),
    rejectUnauthorized: false,
  });
  client.on('error', () => {});
  const bytes = await hello;
  client.destroy();
  server.close();
  return new Uint8Array(bytes);
}

describe('TLS ClientHello server name', () => {
  it('reads the name a real client asks for, lowercased', async () => {
    const hello = await realClientHello('API.Example.test');
    expect(startsLikeClientHello(hello, 0, hello.length)).toBe(true);
    expect(clientHelloServerName(hello, 0, hello.length)).toBe('api.example.test');
  });

  it('finds none when the client sends no server name', async () => {
    const hello = await realClientHello(undefined);
    expect(clientHelloServerName(hello, 0, hello.length)).toBeUndefined();
  });

  it('never throws on a cut or damaged ClientHello, and never reads past the end it is given', async () => {
    const hello = await realClientHello('shop.example.test');
    for (let end = 0; end <= hello.length; end++) {
      const name = clientHelloServerName(hello, 0, end);
      if (name !== undefined) expect(name).toBe('shop.example.test');
    }
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), (edits) => {
        const data = hello.slice();
        for (const [at, value] of edits) data[at % data.length] = value;
        const name = clientHelloServerName(data, 0, data.length);
        if (name !== undefined) expect(name).toMatch(/^[a-z0-9._-]+$/);
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        clientHelloServerName(bytes, 0, bytes.length);
      }),
      { numRuns: 3000 },
    );
  });
});

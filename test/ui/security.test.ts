// The web UI's defences as a stranger meets them: no token, no entry (401), and the page asks for one; nothing changes
// without the page's own header; only loopback names on a loopback address; off loopback only over TLS, with client
// certificates enforced by the handshake and recordings offered only to them; hostile requests get a clear 4xx and
// the server goes on serving; the page runs under a strict CSP with no inline script.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../../src/server/node.js';
import { makeTestCa, type CertFiles, type TestCa } from '../harness/certs.js';
import { launchBrowser, startUiNode } from './harness.js';

const TOKEN = '3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
}

function request(url: string, o: RequestOptions = {}): Promise<Answer> {
  const u = new URL(url);
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      {
        host: u.hostname,
        port: u.port,
        path: `${u.pathname}${u.search}`,
        method: o.method ?? 'GET',
        headers: o.headers,
        ...(o.tls && { ca: o.tls.ca, cert: o.tls.cert, key: o.tls.key, servername: 'localhost' }),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

const errorOf = (a: Answer) => (JSON.parse(a.body) as { error: string }).error;

describe('the web UI with a token, on loopback', () => {
  let dir: string;
  let node: RunningNode & { url: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hubble-ts-ui-token-'));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    node = await startUiNode(dir, { 'ui-token-file': tokenFile });
  });
  afterAll(async () => node?.close());

  it('answers 401 without the token, and to the token as a bearer or as the session cookie /api/login sets', async () => {
    const without = await request(`${node.url}api/info`);
    expect(without.status).toBe(401);
    expect(errorOf(without)).toBe('this web UI asks for a token: enter the one in --ui-token-file');
    for (const path of ['api/flows', 'api/recordings', 'api/status', 'api/nodes', 'api/recordings/x/download']) {
      expect((await request(`${node.url}${path}`)).status, path).toBe(401);
    }
    // A wrong token, as a bearer or a forged session, waits half a second as a wrong login does; none at all does not.
    const timed = async (headers: Record<string, string>) => {
      const started = performance.now();
      const status = (await request(`${node.url}api/info`, { headers })).status;
      return { status, slow: performance.now() - started >= 450 };
    };
    expect(await timed({ authorization: 'Bearer nope' })).toEqual({ status: 401, slow: true });
    expect(await timed({ cookie: 'hubblets_ui_session=00' })).toEqual({ status: 401, slow: true });
    expect(await timed({})).toEqual({ status: 401, slow: false });
    expect((await request(`${node.url}api/info`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);

    const login = (token: string) =>
      request(`${node.url}api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hubble-ts-ui': '1' },
        body: JSON.stringify({ token }),
      });
    const wrong = await login('guess');
    expect(wrong.status).toBe(401);
    expect(errorOf(wrong)).toBe('that is not the token in --ui-token-file');
    expect(wrong.headers['set-cookie']).toBeUndefined();
    const right = await login(TOKEN);
    expect(right.status).toBe(204);
    const cookie = right.headers['set-cookie']![0]!;
    expect(cookie).toMatch(/^hubblets_ui_session=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Strict$/);
    // The cookie proves the token without being it.
    expect(cookie).not.toContain(TOKEN);
    const session = cookie.split(';')[0]!;
    expect((await request(`${node.url}api/info`, { headers: { cookie: session } })).status).toBe(200);
    expect((await request(`${node.url}api/info`, { headers: { cookie: 'hubblets_ui_session=00' } })).status).toBe(401);
  });

  it('refuses changes without the page’s header and hosts that are not loopback names', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const forged = await request(`${node.url}api/recordings`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(forged.status).toBe(403);
    expect(errorOf(forged)).toBe('requests that change something must carry the header x-hubble-ts-ui: 1');
    // A page elsewhere whose name was made to resolve here (DNS rebinding) names its own host.
    const rebound = await request(`${node.url}api/info`, { headers: { ...auth, host: 'attacker.example:12000' } });
    expect(rebound.status).toBe(421);
    expect(errorOf(rebound)).toBe(
      'this web UI answers only to loopback names (localhost, 127.0.0.1, [::1]), not "attacker.example:12000"',
    );
    expect((await request(`${node.url}api/info`, { headers: { ...auth, host: 'localhost:9' } })).status).toBe(200);
  });

  it('asks for the token in the page, refuses a wrong one and opens with the right one', async () => {
    const { browser, close } = await launchBrowser(join(dir, 'chromium'));
    try {
      const page = await browser.newPage();
      await page.goto(node.url);
      await page.waitForSelector('#login:not([hidden])');
      expect(await page.locator('#view-map').isHidden()).toBe(true);
      await page.fill('#login-form [name="token"]', 'guess');
      await page.click('#login-form button');
      await expect
        .poll(() => page.locator('#login-message').textContent())
        .toBe('that is not the token in --ui-token-file');
      await page.fill('#login-form [name="token"]', TOKEN);
      await page.click('#login-form button');
      await page.waitForSelector('#stream-state[data-received="18"]');
      expect(await page.locator('#login').isHidden()).toBe(true);
      expect(await page.locator('#server-name').textContent()).toBe('node ui-node');
    } finally {
      await close();
    }
  });
});

describe('the web UI off loopback', () => {
  let dir: string;
  let ca: TestCa;
  let user: CertFiles;
  let stranger: CertFiles;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hubble-ts-ui-tls-'));
    ca = makeTestCa('ui test CA');
    user = ca.issue('user', ['user.example'], 'client');
    stranger = makeTestCa('another CA').issue('stranger', ['stranger.example'], 'client');
  });

  it('lets in only client certificates from its CA, and offers them recordings', async () => {
    const server = ca.issue('ui', ['localhost', '127.0.0.1'], 'server');
    const node = await startUiNode(join(mkdtempSync(join(dir, 'mtls-'))), {
      'ui-address': '0.0.0.0:0',
      'ui-tls-cert-file': server.cert,
      'ui-tls-key-file': server.key,
      'ui-tls-client-ca-files': [ca.cert],
    });
    try {
      const url = `https://127.0.0.1:${node.ui!.port}/`;
      const tls = (c?: CertFiles) => ({
        ca: readFileSync(ca.cert),
        ...(c && { cert: readFileSync(c.cert), key: readFileSync(c.key) }),
      });
      const answer = await request(`${url}api/info`, { tls: tls(user) });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body).recorder).toEqual({ enabled: true });
      expect(answer.headers['strict-transport-security']).toBe('max-age=31536000');
      // Without a certificate, or with one from elsewhere, the handshake itself fails: no request is ever read.
      await expect(request(`${url}api/info`, { tls: tls() })).rejects.toThrow();
      await expect(request(`${url}api/info`, { tls: tls(stranger) })).rejects.toThrow();
    } finally {
      await node.close();
    }
  });

  it('asks a token holder over TLS for the token, and offers no recordings without client certificates', async () => {
    const server = ca.issue('ui2', ['localhost', '127.0.0.1'], 'server');
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
    const node = await startUiNode(join(mkdtempSync(join(dir, 'token-'))), {
      'ui-address': '0.0.0.0:0',
      'ui-tls-cert-file': server.cert,
      'ui-tls-key-file': server.key,
      'ui-token-file': tokenFile,
    });
    try {
      const url = `https://127.0.0.1:${node.ui!.port}/`;
      const tls = { ca: readFileSync(ca.cert) };
      expect((await request(`${url}api/info`, { tls })).status).toBe(401);
      const auth = { authorization: `Bearer ${TOKEN}` };
      const info = JSON.parse((await request(`${url}api/info`, { tls, headers: auth })).body);
      expect(info.recorder.enabled).toBe(false);
      const start = await request(`${url}api/recordings`, {
        tls,
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', 'x-hubble-ts-ui': '1' },
        body: '{}',
      });
      expect(start.status).toBe(404);
      expect(errorOf(start)).toBe(info.recorder.reason);
      // Any host name: off loopback the token guards, not the name.
      expect((await request(`${url}api/info`, { tls, headers: { ...auth, host: 'hubble.example' } })).status).toBe(200);
    } finally {
      await node.close();
    }
  });
});

describe('the web UI given hostile requests', () => {
  let dir: string;
  let node: RunningNode & { url: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hubble-ts-ui-hostile-'));
    node = await startUiNode(dir, { 'ui-max-streams': 2 });
  });
  afterAll(async () => node?.close());

  it('answers each with a 4xx and a sentence, and goes on serving', async () => {
    const json = { 'content-type': 'application/json', 'x-hubble-ts-ui': '1' };
    const cases: [string, RequestOptions, number, string][] = [
      ['api/flows?filter=' + 'a'.repeat(5000), {}, 400, 'filter: the filter is 5000 characters long'],
      ['api/flows?filter=--port', {}, 400, 'filter: --port needs a value'],
      ['api/flows?filter=' + encodeURIComponent('--cel-expression "((("'), {}, 400, 'is not a valid CEL expression'],
      ['api/flows?filter=' + encodeURIComponent('--http-path "(["'), {}, 400, 'filter: '],
      ['api/recordings', { method: 'POST', headers: json, body: '{"filters": [' }, 400, 'not valid JSON'],
      ['api/recordings', { method: 'POST', headers: json, body: 'x'.repeat(100_000) }, 413, 'over 16384 bytes'],
      [
        'api/recordings',
        { method: 'POST', headers: { ...json, 'content-type': 'text/plain' }, body: '{}' },
        415,
        'send the request body as application/json',
      ],
      ['api/recordings', { method: 'POST', headers: json, body: '[]' }, 400, 'give at least one filter'],
      [
        'api/recordings',
        {
          method: 'POST',
          headers: json,
          body: JSON.stringify({
            filters: [{ sourceCidr: '0.0.0.0/0', destinationCidr: '0.0.0.0/0', sourcePort: -1 }],
          }),
        },
        400,
        'filter 1: source port: give a whole number from 0 to 65535',
      ],
      ['api/recordings/..%2F..%2Fetc%2Fpasswd/download', {}, 400, '"../../etc/passwd" is not a recording name'],
      ['api/recordings/hubble_1_2_x.pcap/download', {}, 404, 'no such recording'],
      ['api/recordings/nope.pcap', { method: 'DELETE', headers: json }, 400, 'is not a recording name'],
      ['api/recordings/hubble_1_2_x.pcap', { method: 'DELETE', headers: json }, 404, 'no such recording'],
      ['api/recordings/hubble_1_2_x.pcap/stop', { method: 'POST', headers: json }, 404, 'no such recording'],
      ['api/%E0%A4%A', {}, 400, 'the request path is not valid'],
      ['api/info', { method: 'PUT', headers: json }, 405, 'PUT is not allowed here (use GET)'],
      ['api/nope', {}, 404, 'no such endpoint: /api/nope'],
      ['nope.html', {}, 404, 'no such page: /nope.html'],
    ];
    for (const [path, options, status, message] of cases) {
      const answer = await request(`${node.url}${path}`, options);
      expect(answer.status, path).toBe(status);
      expect(errorOf(answer), path).toContain(message);
    }
    // Headers too large for any honest request: node:http answers itself.
    expect((await request(`${node.url}api/flows?filter=${'a'.repeat(20_000)}`)).status).toBe(431);
    expect((await request(`${node.url}api/info`)).status).toBe(200);
  });

  it('serves no more flow streams than --ui-max-streams, and says so', async () => {
    const open = () =>
      new Promise<{ status: number; close(): void }>((resolve, reject) => {
        const req = httpRequest(`${node.url}api/flows?follow=1`, (res) => {
          resolve({ status: res.statusCode!, close: () => req.destroy() });
          res.resume();
        });
        req.on('error', reject);
        req.end();
      });
    const streams = [await open(), await open()];
    expect(streams.map((s) => s.status)).toEqual([200, 200]);
    const third = await request(`${node.url}api/flows?follow=1`);
    expect(third.status).toBe(503);
    expect(errorOf(third)).toBe(
      '2 flow streams are open, the most this server serves (--ui-max-streams): close another tab and retry',
    );
    for (const s of streams) s.close();
    await expect.poll(async () => (await request(`${node.url}api/flows?filter=--last+1`)).status).toBe(200);
  });

  it('serves the page under a CSP that allows no inline script, and no page script inline', async () => {
    const page = await request(node.url);
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    const scripts = [...page.body.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.map((m) => [m[1]!.trim(), m[2]])).toEqual([['type="module" src="/assets/app.js"', '']]);
    expect(page.body).not.toMatch(/\son[a-z]+=/i);
    expect(page.body).not.toMatch(/\sstyle=/i);
    expect(page.body).not.toMatch(/https?:\/\//);
    const script = await request(`${node.url}assets/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
  });
});

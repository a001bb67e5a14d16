// The web UI tests' world: a crafted capture of a small shop (pods in two namespaces, a workload with two pods, world
// and DNS), the endpoint inventory that names them, `hubble-ts serve --ui-address` replaying it, and Debian's Chromium
// driven by playwright-core (its own browser downloads cannot work here), launched so it stays off the network.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { pino } from 'pino';
import { observeCommand } from '../../src/cli/observe.js';
import { resolveSettings, type Settings } from '../../src/server/config.js';
import { startNode, type RunningNode } from '../../src/server/node.js';
import { SERVE_SETTINGS, toServeOptions } from '../../src/server/serveOptions.js';
import { spawnCli, type CliProcess } from '../harness/cli.js';
import { ethernet, icmp, ipv4, tcp, udp } from '../harness/frames.js';
import { writePcap } from '../harness/pcapFiles.js';

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
/** Screenshots and downloads of the last run (gitignored). */
export const OUTPUT_DIR = join(import.meta.dirname, '../../test-output/ui');

const [FIN, SYN, RST, PSH, ACK] = [0x01, 0x02, 0x04, 0x08, 0x10];
void RST;

export const ADDRESSES = {
  frontendA: '10.0.1.10',
  frontendB: '10.0.1.11',
  cart: '10.0.1.20',
  postgres: '10.0.2.30',
  world: '203.0.113.7',
  visitor: '198.51.100.9',
} as const;

/** The inventory `serve --endpoints` reads: two frontend pods of one Deployment, a cart, a database in its own namespace. */
export function writeInventory(dir: string): string {
  const path = join(dir, 'endpoints.yaml');
  writeFileSync(
    path,
    `endpoints:
  - cidrs: [${ADDRESSES.frontendA}]
    namespace: shop
    pod: frontend-7d4b9c-x2k1p
    labels: { app: frontend }
    workload: { kind: Deployment, name: frontend }
  - cidrs: [${ADDRESSES.frontendB}]
    namespace: shop
    pod: frontend-7d4b9c-q8w3e
    labels: { app: frontend }
    workload: { kind: Deployment, name: frontend }
  - cidrs: [${ADDRESSES.cart}]
    namespace: shop
    pod: cart-5f6d8-qq2wz
    labels: { app: cart }
    workload: { kind: StatefulSet, name: cart }
  - cidrs: [${ADDRESSES.postgres}]
    namespace: db
    pod: postgres-0
    labels: { app: postgres }
`,
  );
  return path;
}

const t4 = (src: string, dst: string, sport: number, dport: number, flags: number, data = 0) =>
  ethernet({ type: 0x0800 }, ipv4({ src, dst, protocol: 6 }, tcp({ sport, dport, flags }, new Uint8Array(data))));
const u4 = (src: string, dst: string, sport: number, dport: number, data = 20) =>
  ethernet({ type: 0x0800 }, ipv4({ src, dst, protocol: 17 }, udp(sport, dport, new Uint8Array(data))));
const i4 = (src: string, dst: string, type: number) =>
  ethernet({ type: 0x0800 }, ipv4({ src, dst, protocol: 1 }, icmp(type, 0, 7, 1)));

/** The shop's traffic: frontends call the cart, the cart the database, a frontend asks DNS, a visitor connects. */
export function shopFrames(): Uint8Array[] {
  const { frontendA: fa, frontendB: fb, cart, postgres: db, world, visitor } = ADDRESSES;
  return [
    t4(fa, cart, 40000, 8080, SYN),
    t4(cart, fa, 8080, 40000, SYN | ACK),
    t4(fa, cart, 40000, 8080, ACK),
    t4(fa, cart, 40000, 8080, PSH | ACK, 120),
    t4(cart, fa, 8080, 40000, PSH | ACK, 300),
    t4(fa, cart, 40000, 8080, FIN | ACK),
    t4(cart, fa, 8080, 40000, FIN | ACK),
    t4(fb, cart, 40001, 8080, SYN),
    t4(cart, fb, 8080, 40001, SYN | ACK),
    t4(cart, db, 41000, 5432, SYN),
    t4(db, cart, 5432, 41000, SYN | ACK),
    t4(cart, db, 41000, 5432, ACK),
    i4(cart, db, 8),
    i4(db, cart, 0),
    u4(fa, world, 5353, 53),
    u4(world, fa, 53, 5353, 60),
    t4(visitor, fa, 50000, 443, SYN),
    t4(fa, visitor, 443, 50000, SYN | ACK),
  ];
}

/** Writes frames as a pcap, one millisecond apart from `startSeconds`. */
export function writeCapture(dir: string, name: string, frames: readonly Uint8Array[], startSeconds: number): string {
  const path = join(dir, name);
  const records = frames.map((data, i) => ({
    seconds: startSeconds + Math.floor(i / 1000),
    fraction: (i % 1000) * 1000,
    data,
  }));
  writeFileSync(path, writePcap(records, { linkType: 1 }));
  return path;
}

export interface ServedUi {
  process: CliProcess;
  socket: string;
  url: string;
}

/** `hubble-ts serve ARGS --ui-address 127.0.0.1:0`, once its source is replayed and the UI serves. */
export async function serveWithUi(dir: string, args: readonly string[], waitForSource = true): Promise<ServedUi> {
  const socket = join(dir, 'hubble.sock');
  const process = spawnCli([
    'serve',
    '--socket-path',
    socket,
    '--recordings-dir',
    join(dir, 'recordings'),
    '--ui-address',
    '127.0.0.1:0',
    ...args,
  ]);
  await process.waitFor((out) => out.includes('serving Hubble API'), 20_000, 'the node to serve');
  if (waitForSource) await process.waitFor((out) => out.includes('source ended'), 20_000, 'the capture to be replayed');
  const serving = process
    .stdout()
    .split('\n')
    .find((l) => l.includes('serving Hubble API'));
  return { process, socket, url: (JSON.parse(serving!) as { ui: string }).ui };
}

/**
 * A node in this process with the web UI on 127.0.0.1 (unless `settings` say otherwise), replaying the shop capture;
 * for tests that publish events themselves or look at HTTP answers, where a process of its own buys nothing.
 */
export async function startUiNode(dir: string, settings: Settings = {}): Promise<RunningNode & { url: string }> {
  const node = await startNode(
    toServeOptions(
      resolveSettings(SERVE_SETTINGS, {
        source: [`pcap:${writeCapture(dir, 'shop.pcap', shopFrames(), 1_700_000_000)}`],
        endpoints: writeInventory(dir),
        'socket-path': join(dir, 'hubble.sock'),
        'recordings-dir': join(dir, 'recordings'),
        'node-name': 'ui-node',
        'ui-address': '127.0.0.1:0',
        ...settings,
      }),
    ),
    pino({ level: 'silent' }),
  );
  await node.sourcesDone;
  return Object.assign(node, { url: node.ui!.url });
}

/**
 * `hubble-ts observe ARGS --server unix://SOCKET` run in this process (the command's own code, without the second or
 * two a fresh process takes to start); its output lines.
 */
export async function observeLines(socket: string, args: readonly string[]): Promise<string[]> {
  let out = '';
  const cmd = observeCommand({ stdout: { write: (s: string) => (out += s) }, stderr: { write: () => true } });
  cmd.exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  await cmd.parseAsync(['--server', `unix://${socket}`, ...args], { from: 'user' });
  return out.split('\n').filter((l) => l !== '');
}

/** Builds the page from ui/ as install does, so the tests never run against a stale bundle. */
export function buildPage(): void {
  execFileSync(process.execPath, [join(import.meta.dirname, '../../scripts/build-ui.mjs')], { stdio: 'inherit' });
}

/** Debian's Chromium, headless and kept off the network (no updates, sync, QUIC or first-run work). */
export async function launchBrowser(userDataDir: string): Promise<{ browser: BrowserContext; close(): Promise<void> }> {
  mkdirSync(userDataDir, { recursive: true });
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1400, height: 900 },
    acceptDownloads: true,
    ignoreHTTPSErrors: false,
  });
  return { browser: context, close: () => context.close() };
}

export type { Browser };

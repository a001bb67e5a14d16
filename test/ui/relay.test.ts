// The web UI of `hubble-ts relay`, in Chromium: the nodes view lists the cluster's nodes and their state, the flow
// table holds every node's flows in time order with their node, as `hubble-ts observe --print-node-name` shows them
// through the relay, a node's name opens its flows, a node that leaves is reported, and recordings are not offered.
// The relay demands client certificates on its own listener; the page still works (it reads the relay in process).
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../../src/server/node.js';
import { runCli, type CliProcess } from '../harness/cli.js';
import {
  craftCapture,
  makeClusterPki,
  startPeerService,
  startRelayProcess,
  startTestNode,
  tempDir,
  type ClusterPki,
  type TestPeerService,
} from '../relay/harness.js';
import { buildPage, launchBrowser, OUTPUT_DIR } from './harness.js';

const NAMES = ['node-a', 'node-b'] as const;
const PER_NODE = 6;

describe('the web UI of hubble-ts relay, in Chromium', () => {
  let dir: string;
  let pki: ClusterPki;
  const nodes: RunningNode[] = [];
  let peers: TestPeerService;
  let relay: CliProcess & { port: number };
  let url: string;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;

  beforeAll(async () => {
    buildPage();
    dir = tempDir('ui');
    pki = makeClusterPki(NAMES);
    for (const [i, name] of NAMES.entries()) {
      nodes[i] = await startTestNode({ name, dir, source: `pcap:${craftCapture(dir, i, NAMES.length, PER_NODE)}` });
    }
    peers = await startPeerService(
      join(dir, 'peers.sock'),
      NAMES.map((name, i) => ({ name, address: `127.0.0.1:${nodes[i]!.tcpPort}` })),
    );
    relay = await startRelayProcess([
      '--peer-service',
      peers.target,
      '--disable-client-tls',
      '--tls-relay-server-cert-file',
      pki.relayServer.cert,
      '--tls-relay-server-key-file',
      pki.relayServer.key,
      '--tls-relay-client-ca-files',
      pki.ca.cert,
      '--ui-address',
      '127.0.0.1:0',
    ]);
    const serving = relay
      .stdout()
      .split('\n')
      .find((l) => l.includes('serving Hubble Relay API'))!;
    url = (JSON.parse(serving) as { ui: string }).ui;
    browser = await launchBrowser(join(dir, 'chromium'));
    page = await browser.browser.newPage();
    await page.goto(`${url}#view=nodes`);
  });

  afterAll(async () => {
    await browser?.close();
    await relay?.stop();
    await peers?.close();
    for (const node of nodes) await node?.close();
  });

  /** What `hubble-ts observe --print-node-name ARGS` prints through the relay, with the user's client certificate. */
  async function observe(...args: string[]): Promise<string[]> {
    const ran = await runCli([
      'observe',
      '--server',
      `127.0.0.1:${relay.port}`,
      '--tls',
      '--tls-ca-cert-files',
      pki.ca.cert,
      '--tls-client-cert-file',
      pki.user.cert,
      '--tls-client-key-file',
      pki.user.key,
      '--tls-server-name',
      'localhost',
      '--print-node-name',
      ...args,
    ]);
    expect(ran.code, ran.stderr).toBe(0);
    return ran.stdout.split('\n').filter((l) => l !== '');
  }

  async function tableLines(): Promise<string[]> {
    const col = (name: string) => page.locator(`.flow-body .flow-row .col-${name}`).allTextContents();
    const [time, node, source, arrow, destination, type, verdict, summary] = await Promise.all(
      ['time', 'node', 'source', 'arrow', 'destination', 'type', 'verdict', 'summary'].map(col),
    );
    return time!.map(
      (t, i) =>
        `${t} [${node![i]}]: ${source![i]} ${arrow![i]} ${destination![i]} ${type![i]} ${verdict![i]} (${summary![i]})`,
    );
  }

  it('lists every node of the cluster with its state', async () => {
    const rows = page.locator('#nodes-list tbody tr');
    await expect.poll(() => rows.count()).toBe(NAMES.length);
    expect(await page.locator('#server-name').textContent()).toMatch(/^Hubble Relay /);
    for (const [i, name] of NAMES.entries()) {
      const row = page.locator(`#nodes-list tr[data-node="${name}"]`);
      expect(await row.getAttribute('data-state')).toBe('NODE_CONNECTED');
      const cells = await row.locator('td').allTextContents();
      expect(cells.slice(0, 3)).toEqual([name, 'connected', `127.0.0.1:${nodes[i]!.tcpPort}`]);
      expect(cells[6]).toBe(`${PER_NODE} / 4,095`);
    }
    await page.screenshot({ path: join(OUTPUT_DIR, 'relay-nodes.png') });
  });

  it('shows every node’s flows in time order with the node each came from, as observe through the relay does', async () => {
    await page.click('#tab-flows');
    await expect.poll(() => page.locator('.flow-body .flow-row').count()).toBe(NAMES.length * PER_NODE);
    expect(await page.locator('.flow-header .col-node').textContent()).toBe('Node');
    expect(await tableLines()).toEqual(await observe('--all'));
  });

  it('opens one node’s flows from the nodes view', async () => {
    await page.click('#tab-nodes');
    await page.locator('#nodes-list button[data-node="node-b"]').click();
    expect(await page.locator('#filter').inputValue()).toBe('--node-name node-b');
    await expect
      .poll(() => page.locator('.flow-body .flow-row .col-node').allTextContents())
      .toEqual(Array.from({ length: PER_NODE }, () => 'node-b'));
    expect(await tableLines()).toEqual(await observe('--all', '--node-name', 'node-b'));
  });

  it('offers no recordings, and says where to record', async () => {
    const asked: string[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname.startsWith('/api/recordings')) asked.push(r.url());
    });
    await page.click('#tab-recordings');
    expect(await page.locator('#rec-disabled').textContent()).toBe(
      'Recordings are not offered here: Hubble Relay does not serve the Recorder: record on a node’s own web UI.',
    );
    expect(await page.locator('#rec-form').isHidden()).toBe(true);
    const answer = await fetch(`${url}api/recordings`);
    expect(answer.status).toBe(404);
    // The page knows from /api/info: it asks for no recordings (each would be a 404 in the console).
    await page.waitForTimeout(1_500);
    expect(asked).toEqual([]);
  });

  it('reports a node that leaves the cluster, in the flows and in the nodes view', async () => {
    await page.click('#tab-flows');
    await page.fill('#filter', '');
    await page.setChecked('#follow', true);
    await page.click('#apply');
    await page.waitForSelector('#stream-state[data-state="following"]');
    // The Peer service stops listing node-b, as when a node is drained from a cluster.
    peers.set([{ name: 'node-a', address: `127.0.0.1:${nodes[0]!.tcpPort}` }]);
    await expect.poll(() => page.locator('#node-notice').textContent(), { timeout: 15_000 }).toBe('node-b: gone');
    await page.click('#tab-nodes');
    await expect
      .poll(() => page.locator('#nodes-list tbody tr').evaluateAll((rows) => rows.length), { timeout: 15_000 })
      .toBe(1);
    expect(await page.locator('#nodes-list tr[data-node="node-a"]').getAttribute('data-state')).toBe('NODE_CONNECTED');
  });
});

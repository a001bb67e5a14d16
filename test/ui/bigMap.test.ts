// The service map at its size limit, as a person meets it with a busy capture: 450 clients of one server give more
// nodes than the map draws (400). It lays them out, fitted to the panel, comes to rest and then stays still (no node
// drifting, no frames spent on layout), with the edges' labels left out as unreadable at that size.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ethernet, ipv4, udp } from '../harness/frames.js';
import { buildPage, launchBrowser, serveWithUi, writeCapture, type ServedUi } from './harness.js';

const CLIENTS = 450;
const DRAWN_MAX = 400;

const clientAddress = (i: number) => `10.${20 + (i >> 8)}.${i & 0xff}.9`;

function clientFrames(): Uint8Array[] {
  return Array.from({ length: CLIENTS }, (_, i) =>
    ethernet(
      { type: 0x0800 },
      ipv4({ src: clientAddress(i), dst: '10.99.0.1', protocol: 17 }, udp(30000 + i, 9000, new Uint8Array(20))),
    ),
  );
}

/** Each client a pod of its own (else they are all reserved:world, one node), and the server. */
function writeClientInventory(dir: string): string {
  const path = join(dir, 'endpoints.yaml');
  const pods = Array.from(
    { length: CLIENTS },
    (_, i) => `  - cidrs: [${clientAddress(i)}]\n    namespace: load\n    pod: client-${i}\n`,
  );
  writeFileSync(path, `endpoints:\n${pods.join('')}  - cidrs: [10.99.0.1]\n    namespace: load\n    pod: server-0\n`);
  return path;
}

/** Where each node is drawn now. */
function positions(page: Page): Promise<string[]> {
  return page.locator('g.map-node').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('transform') ?? ''));
}

describe('the web UI map at its size limit', () => {
  let served: ServedUi;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;

  beforeAll(async () => {
    buildPage();
    const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-ui-big-'));
    served = await serveWithUi(dir, [
      '--source',
      `pcap:${writeCapture(dir, 'clients.pcap', clientFrames(), 1_700_000_000)}`,
      '--endpoints',
      writeClientInventory(dir),
    ]);
    browser = await launchBrowser(join(dir, 'chromium'));
    page = await browser.browser.newPage();
    await page.goto(`${served.url}#view=map&filter=--all&follow=0`);
    await page.waitForSelector(`#stream-state[data-state="complete"][data-received="${CLIENTS}"]`);
  });

  afterAll(async () => {
    await browser?.close();
    await served?.process.stop();
  });

  it('draws 400 nodes, fitted in view, comes to rest, and then keeps them still', async () => {
    // d3's own pace (a step and a redraw a frame) kept such a map busy for a minute and more.
    await page.waitForSelector('svg.map[data-settled="true"]', { timeout: 20_000 });
    expect(await page.locator('g.map-node').count()).toBe(DRAWN_MAX);
    expect(await page.locator('svg.map').getAttribute('class')).toContain('dense');
    // Fitted: every node inside the panel.
    const panel = (await page.locator('svg.map').boundingBox())!;
    const boxes = await page.locator('g.map-node circle').evaluateAll((circles) =>
      circles.map((c) => {
        const r = c.getBoundingClientRect();
        return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
      }),
    );
    const outside = boxes.filter(
      (b) => b.x < panel.x || b.x > panel.x + panel.width || b.y < panel.y || b.y > panel.y + panel.height,
    );
    expect(outside).toEqual([]);
    const before = await positions(page);
    await page.waitForTimeout(1_000);
    expect(await positions(page)).toEqual(before);
  });
});

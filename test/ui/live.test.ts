// The web UI while flows keep coming, on a node in this process fed datapath events directly: drops turn their edge
// red; a browser that does not read loses flows to its bounded queue, counted (and on /metrics) rather than held; and a
// page following 5,000 flows a second keeps drawing frames and answering clicks, every flow received or counted.
import { mkdtempSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDropNotify } from '../../src/monitor/datapath/dropNotify.js';
import { encodeTraceNotify, TraceObservationPoint } from '../../src/monitor/datapath/traceNotify.js';
import type { RunningNode } from '../../src/server/node.js';
import { ethernet, ipv4, tcp } from '../harness/frames.js';
import { scrape, valueOf } from '../metrics/promText.js';
import { ADDRESSES, buildPage, launchBrowser, OUTPUT_DIR, shopFrames, startUiNode } from './harness.js';

const SYN = 0x02;
const INITIAL_FLOWS = shopFrames().length;

function syn(src: string, dst: string, sport: number, dport: number): Uint8Array {
  return ethernet({ type: 0x0800 }, ipv4({ src, dst, protocol: 6 }, tcp({ sport, dport, flags: SYN })));
}

function now(): { seconds: number; nanos: number } {
  const ms = Date.now();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

/** Publishes `frames` into the node as trace (or drop) notifications, as a datapath would report them. */
function publish(node: RunningNode, frames: readonly Uint8Array[], drop = false): void {
  for (const frame of frames) {
    const data = drop
      ? encodeDropNotify({ subType: 133 }, frame)
      : encodeTraceNotify({ obsPoint: TraceObservationPoint.TO_STACK, origLen: frame.length }, frame);
    node.agent.publish({ timestamp: now(), nodeName: 'ui-node', payload: { kind: 'perf', cpu: 0, data } });
  }
}

async function status(url: string): Promise<{ ui: { streams: number; dropped: number } }> {
  return (await (await fetch(`${url}api/status`)).json()) as { ui: { streams: number; dropped: number } };
}

describe('the web UI while flows keep coming', () => {
  let dir: string;
  let node: RunningNode & { url: string };
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;

  beforeAll(async () => {
    buildPage();
    dir = mkdtempSync(join(tmpdir(), 'hubble-ts-ui-live-'));
    node = await startUiNode(dir, {
      'buffer-capacity': 65535,
      'ui-client-queue-size': 500,
      'metrics-address': '127.0.0.1:0',
    });
    browser = await launchBrowser(join(dir, 'chromium'));
    page = await browser.browser.newPage();
    await page.goto(node.url);
    await page.waitForSelector(`#stream-state[data-received="${INITIAL_FLOWS}"]`);
  });

  afterAll(async () => {
    await browser?.close();
    await node?.close();
  });

  it('draws dropped flows in red on the edge they belong to, as they arrive', async () => {
    const { frontendA, postgres } = ADDRESSES;
    publish(node, [syn(frontendA, postgres, 40100, 5432), syn(frontendA, postgres, 40101, 5432)], true);
    const edge = page.locator('g.map-edge[data-id="shop/frontend -> db/postgres-0"]');
    await expect.poll(() => edge.getAttribute('data-verdict')).toBe('dropped');
    expect(await edge.locator('.edge-label').textContent()).toBe('TCP 5432 (2, 2 dropped)');
    // Red is what a person sees: the stroke the stylesheet gives a dropped edge.
    const stroke = await edge
      .locator('.edge-line')
      .evaluate((el: unknown) => (globalThis as any).getComputedStyle(el).stroke as string);
    expect(stroke).toBe('rgb(211, 49, 43)');
    await page.waitForSelector('svg.map[data-settled="true"]');
    await page.screenshot({ path: join(OUTPUT_DIR, 'map-with-drops.png') });
    await edge.locator('.edge-label').click();
    await expect.poll(() => page.locator('.flow-body .flow-row').count()).toBe(2);
    expect(await page.locator('.flow-body .flow-row .col-verdict').allTextContents()).toEqual(['DROPPED', 'DROPPED']);
    expect(await page.locator('.flow-body .flow-row.tone-dropped').count()).toBe(2);
    await page.click('#selection-clear');
    await page.click('#tab-map');
  });

  it('drops and counts flows for a browser that does not read, and tells it how many when it reads again', async () => {
    const before = (await status(node.url)).ui.dropped;
    // A client that opens a following stream and then stops reading: its socket fills, then its queue.
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(`${node.url}api/flows?follow=1&filter=--to-port+8080`, resolve);
      req.on('error', reject);
      req.end();
    });
    res.pause();
    const frames = Array.from({ length: 200 }, (_, i) => syn(ADDRESSES.frontendB, ADDRESSES.cart, 20_000 + i, 8080));
    const published = 20_000;
    for (let sent = 0; sent < published; sent += frames.length) {
      publish(node, frames);
      await new Promise((r) => setImmediate(r));
    }
    await expect.poll(async () => (await status(node.url)).ui.dropped - before, { timeout: 10_000 }).toBeGreaterThan(0);
    // Reading again: every flow arrives or is counted as dropped, none held beyond the queue.
    let pending = '';
    let received = 0;
    let last = { dropped: 0, lost: 0 };
    res.setEncoding('utf8');
    res.on('data', (d: string) => {
      pending += d;
      let at: number;
      while ((at = pending.indexOf('\n\n')) !== -1) {
        const event = pending.slice(0, at);
        pending = pending.slice(at + 2);
        if (!event.startsWith('event: flows\n')) continue;
        const batch = JSON.parse(event.slice(event.indexOf('data: ') + 6)) as {
          flows: unknown[];
          dropped: number;
          lost: number;
        };
        received += batch.flows.length;
        last = batch;
      }
    });
    res.resume();
    const history = 5; // the shop's requests to port 8080 (its replies come from 8080)
    await expect.poll(() => received + last.dropped + last.lost, { timeout: 15_000 }).toBe(history + published);
    expect(last.dropped).toBeGreaterThan(0);
    // The server's own count holds this stream's drops (and the page's, which follows everything with a small queue).
    expect((await status(node.url)).ui.dropped - before).toBeGreaterThanOrEqual(last.dropped);
    res.destroy();
    const scraped = await scrape(node.metricsPort!);
    expect(valueOf(scraped, 'hubblets_ui_flows_dropped_total', {})).toBe((await status(node.url)).ui.dropped);
  });

  it('keeps drawing and answering while following 5,000 flows a second, every flow received or counted', async () => {
    await page.click('#tab-map');
    // The page follows every flow: it has had the 20,000 of the test before, and the shop's and the drops.
    const seen = async () =>
      Number(await page.locator('#stream-state').getAttribute('data-received')) +
      Number(await page.locator('#stream-state').getAttribute('data-dropped'));
    await expect.poll(seen, { timeout: 15_000 }).toBe(INITIAL_FLOWS + 2 + 20_000);
    const start = Number(await page.locator('#stream-state').getAttribute('data-received'));
    const startDropped = Number(await page.locator('#stream-state').getAttribute('data-dropped'));
    // Frames as the page draws them: the gaps between animation frames while the flood lasts.
    await page.evaluate(`(() => {
      window.__frames = [];
      const tick = (t) => { window.__frames.push(t); if (!window.__stop) requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
    })()`);
    const clients = Array.from({ length: 40 }, (_, i) => `198.51.100.${i + 1}`);
    const frames = clients.flatMap((c, i) => [
      syn(c, ADDRESSES.frontendA, 30_000 + i, 443),
      syn(ADDRESSES.frontendA, ADDRESSES.cart, 31_000 + i, 8080),
      syn(ADDRESSES.cart, ADDRESSES.postgres, 32_000 + i, 5432),
    ]);
    const rate = 5000;
    const seconds = 4;
    const perTick = rate / 100;
    let published = 0;
    const began = Date.now();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        // Catch up with the clock: setInterval runs late under load, the rate must not.
        const due = Math.min(rate * seconds, Math.floor(((Date.now() - began) / 1000) * rate));
        while (published < due) {
          const n = Math.min(perTick, due - published);
          publish(
            node,
            Array.from({ length: n }, (_, i) => frames[(published + i) % frames.length]!),
          );
          published += n;
        }
        if (published >= rate * seconds) {
          clearInterval(timer);
          resolve();
        }
      }, 10);
    });
    const elapsed = (Date.now() - began) / 1000;
    // Responsive while flows still arrive: the flows view opens and a row's details show.
    await page.click('#tab-flows');
    await page.locator('.flow-body .flow-row').last().click();
    await expect.poll(() => page.locator('#detail-json').textContent()).toMatch(/^\{"flow":/);
    await expect.poll(seen, { timeout: 15_000 }).toBe(start + startDropped + published);
    const times = (await page.evaluate('(() => { window.__stop = true; return window.__frames; })()')) as number[];
    const gaps = times
      .slice(1)
      .map((t, i) => t - times[i]!)
      .sort((a, b) => a - b);
    const p = (q: number) => gaps[Math.min(gaps.length - 1, Math.floor(q * gaps.length))]!;
    const received = Number(await page.locator('#stream-state').getAttribute('data-received')) - start;
    const dropped = Number(await page.locator('#stream-state').getAttribute('data-dropped')) - startDropped;
    const summary = {
      published,
      publishSeconds: Number(elapsed.toFixed(2)),
      received,
      dropped,
      frames: gaps.length,
      frameMsMedian: Number(p(0.5).toFixed(1)),
      frameMsP95: Number(p(0.95).toFixed(1)),
      frameMsMax: Number(gaps.at(-1)!.toFixed(1)),
    };
    console.log(`web UI under ${rate} flows/s: ${JSON.stringify(summary)}`);
    // The table is bounded: it says so, and holds its last rows only.
    expect(await page.locator('#stream-state').textContent()).toContain('table keeps the last 2,000');
    expect(await page.locator('.flow-body .flow-row').count()).toBeLessThan(120);
    // Drawing went on: frames kept coming (a frozen page would show a few, seconds apart).
    expect(summary.frames).toBeGreaterThan(elapsed * 10);
    expect(summary.frameMsP95).toBeLessThan(250);
    await page.screenshot({ path: join(OUTPUT_DIR, 'flows-under-load.png') });
  });
});

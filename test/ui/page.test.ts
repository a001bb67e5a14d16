// The web UI as a person uses it, in Debian's Chromium against `hubble-ts serve --ui-address` replaying a crafted
// capture (and capturing one UDP port on loopback live): the map's nodes and edges and the table's rows are those of
// the flows `hubble-ts observe --all` returns; the detail pane holds the `-o json` line; the filter box takes observe's
// flags; a recording started, watched and stopped from the page downloads as a pcap tshark reads.
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.js';
import { tsharkFields } from '../harness/tshark.js';
import { jsonLines } from '../relay/harness.js';
import {
  buildPage,
  launchBrowser,
  observeLines,
  OUTPUT_DIR,
  serveWithUi,
  shopFrames,
  writeCapture,
  writeInventory,
  type ServedUi,
} from './harness.js';

type Json = Record<string, any>;

/** Where the map puts an endpoint, derived from the flow's JSON as a person reads it. */
function endpointId(ep: Json | undefined, ip: string): string {
  const ns = ep?.['namespace'] ?? '';
  const workload = ep?.['workloads']?.[0]?.['name'];
  if (ns && workload) return `${ns}/${workload}`;
  if (ns && ep?.['pod_name']) return `${ns}/${ep['pod_name']}`;
  const reserved = (ep?.['labels'] as string[] | undefined)?.find((l) => l.startsWith('reserved:'));
  return reserved ?? ip;
}

interface ExpectedEdge {
  flows: number;
  protocols: Map<string, Set<number>>;
}

/** The map a person expects from these flows: client to server (replies turned around), protocols, server ports. */
function expectedMap(flows: Json[]): { nodes: Map<string, number>; edges: Map<string, ExpectedEdge> } {
  const nodes = new Map<string, number>();
  const edges = new Map<string, ExpectedEdge>();
  for (const f of flows) {
    let from = endpointId(f['source'], f['IP']['source']);
    let to = endpointId(f['destination'], f['IP']['destination']);
    const [protocol, l4] = Object.entries(f['l4'] as Json)[0]!;
    let port = (l4 as Json)['destination_port'] ?? 0;
    if (f['is_reply'] === true) {
      [from, to] = [to, from];
      port = (l4 as Json)['source_port'] ?? 0;
    }
    nodes.set(from, (nodes.get(from) ?? 0) + 1);
    if (to !== from) nodes.set(to, (nodes.get(to) ?? 0) + 1);
    const id = `${from} -> ${to}`;
    const e = edges.get(id) ?? { flows: 0, protocols: new Map() };
    e.flows++;
    const ports = e.protocols.get(protocol) ?? new Set<number>();
    if (port !== 0) ports.add(port);
    e.protocols.set(protocol, ports);
    edges.set(id, e);
  }
  return { nodes, edges };
}

function protocolsText(protocols: Map<string, Set<number>>): string {
  return [...protocols]
    .map(([p, ports]) => (ports.size === 0 ? p : `${p} ${[...ports].sort((a, b) => a - b).join(', ')}`))
    .join(' · ');
}

async function attributes(locator: Locator, names: readonly string[]): Promise<Record<string, string>[]> {
  const out: Record<string, string>[] = [];
  for (const el of await locator.all()) {
    const row: Record<string, string> = {};
    for (const n of names) row[n] = (await el.getAttribute(n)) ?? '';
    out.push(row);
  }
  return out;
}

/** The table's rows as hubble's compact lines, read from the cells a person sees. */
async function tableLines(page: Page): Promise<string[]> {
  const col = (name: string) => page.locator(`.flow-body .flow-row .col-${name}`).allTextContents();
  const [time, source, arrow, destination, type, verdict, summary] = await Promise.all(
    ['time', 'source', 'arrow', 'destination', 'type', 'verdict', 'summary'].map(col),
  );
  return time!.map(
    (t, i) => `${t}: ${source![i]} ${arrow![i]} ${destination![i]} ${type![i]} ${verdict![i]} (${summary![i]})`,
  );
}

/** Applies filter flags in the page and waits for the stream to be complete. */
async function applyFilter(page: Page, flags: string, follow = false): Promise<void> {
  await page.fill('#filter', flags);
  await page.setChecked('#follow', follow);
  await page.click('#apply');
  await page.waitForSelector(`#stream-state[data-state="${follow ? 'following' : 'complete'}"]`);
}

describe('the web UI of hubble-ts serve, in Chromium', () => {
  let dir: string;
  let served: ServedUi;
  let flows: Json[];
  let jsonText: string[];
  let compact: string[];
  let livePort: number;
  let listener: Socket;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const pageErrors: Error[] = [];

  const observe = (...args: string[]) => observeLines(served.socket, args);

  const sendLive = async (count: number) => {
    const sock = createSocket('udp4');
    for (let i = 0; i < count; i++) {
      await new Promise<void>((resolve, reject) =>
        sock.send(`datagram ${i}`, livePort, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
      );
    }
    sock.close();
  };

  beforeAll(async () => {
    buildPage();
    mkdirSync(OUTPUT_DIR, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'hubble-ts-ui-'));
    // A listener on the live port, so the kernel answers no ICMP: the live flows are exactly the datagrams sent.
    listener = createSocket('udp4');
    await new Promise<void>((r) => listener.bind(0, '127.0.0.1', r));
    livePort = listener.address().port;
    served = await serveWithUi(dir, [
      '--source',
      `pcap:${writeCapture(dir, 'shop.pcap', shopFrames(), 1_700_000_000)}`,
      '--source',
      `live:lo:udp port ${livePort}`,
      '--endpoints',
      writeInventory(dir),
      '--node-name',
      'shop-node',
    ]);
    // The judge, as a user runs it: the hubble-ts command in its own process.
    const ran = await runCli(['observe', '--server', `unix://${served.socket}`, '--all', '-o', 'json']);
    expect(ran.code, ran.stderr).toBe(0);
    jsonText = ran.stdout.split('\n').filter((l) => l !== '');
    flows = jsonText.map((l) => JSON.parse(l)['flow'] as Json);
    compact = await observe('--all');
    browser = await launchBrowser(join(dir, 'chromium'));
    page = await browser.browser.newPage();
    page.on('pageerror', (err) => pageErrors.push(err));
    await page.goto(served.url);
    // Everything arrived, then the layout came to rest (drawing a frame restarts it, so in this order).
    await page.waitForSelector(`#stream-state[data-received="${flows.length}"]`);
    await page.waitForSelector('svg.map[data-settled="true"]');
  });

  afterAll(async () => {
    await browser?.close();
    await served?.process.stop();
    listener?.close();
  });

  it('draws one node per workload, pod or reserved identity and one edge per client and server, as the API has the flows', async () => {
    expect(flows).toHaveLength(shopFrames().length);
    const want = expectedMap(flows);
    // The shop as a person knows it: two frontend pods are one workload, the database stands alone, DNS is the world.
    expect([...want.nodes.keys()].sort()).toEqual(['db/postgres-0', 'reserved:world', 'shop/cart', 'shop/frontend']);

    const nodes = await attributes(page.locator('g.map-node'), ['data-id', 'data-flows']);
    expect(new Map(nodes.map((n) => [n['data-id'], Number(n['data-flows'])]))).toEqual(want.nodes);
    const labels = await page.locator('g.map-node .node-label').allTextContents();
    expect(labels.sort()).toEqual(['cart', 'frontend', 'postgres-0', 'reserved:world']);

    const edges = await attributes(page.locator('g.map-edge'), [
      'data-id',
      'data-flows',
      'data-protocols',
      'data-verdict',
    ]);
    expect(edges).toHaveLength(want.edges.size);
    for (const e of edges) {
      const expected = want.edges.get(e['data-id']!);
      expect(expected, e['data-id']).toBeDefined();
      expect(Number(e['data-flows']), e['data-id']).toBe(expected!.flows);
      expect(e['data-protocols'], e['data-id']).toBe(protocolsText(expected!.protocols));
      // A capture holds only forwarded traffic: every edge is green (dropped ones are checked in live.test.ts).
      expect(e['data-verdict']).toBe('forwarded');
    }
    // What is written on the edges, as a person reads it.
    await expect
      .poll(() => page.locator('g.map-edge[data-id="shop/frontend -> shop/cart"] .edge-label').textContent())
      .toBe('TCP 8080 (9)');
    expect(await page.locator('#map-summary').textContent()).toBe('4 nodes · 4 edges');
    await page.screenshot({ path: join(OUTPUT_DIR, 'map.png') });
  });

  it('zooms with its buttons and the wheel, pans by dragging, and fits everything back in view', async () => {
    const layer = page.locator('svg.map > g');
    const transform = async () => {
      const m = /translate\(([-\d.]+),([-\d.]+)\) scale\(([-\d.]+)\)/.exec((await layer.getAttribute('transform'))!)!;
      return { x: Number(m[1]), y: Number(m[2]), k: Number(m[3]) };
    };
    const fitted = await transform();
    await page.click('#zoom-in');
    expect((await transform()).k).toBeCloseTo(fitted.k * 1.4, 5);
    const zoomed = await transform();
    const box = (await page.locator('svg.map').boundingBox())!;
    // Drag from an empty corner of the map: everything moves with the pointer.
    await page.mouse.move(box.x + 20, box.y + 20);
    await page.mouse.down();
    await page.mouse.move(box.x + 120, box.y + 70, { steps: 5 });
    await page.mouse.up();
    const panned = await transform();
    expect(panned.x - zoomed.x).toBeCloseTo(100, 0);
    expect(panned.y - zoomed.y).toBeCloseTo(50, 0);
    expect(panned.k).toBe(zoomed.k);
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.wheel(0, 300);
    await expect.poll(async () => (await transform()).k).toBeLessThan(panned.k);
    await page.click('#zoom-fit');
    expect(await transform()).toEqual(fitted);
  });

  it('lists every flow in the table with the columns hubble-ts observe prints', async () => {
    await page.click('#tab-flows');
    await expect.poll(() => page.locator('.flow-body .flow-row').count()).toBe(flows.length);
    expect(await tableLines(page)).toEqual(compact);
    expect(await page.locator('#stream-state').getAttribute('data-received')).toBe(String(flows.length));
  });

  it('shows a clicked flow exactly as hubble-ts observe -o json prints it', async () => {
    // A request, a reply and an ICMP flow.
    for (const index of [0, 1, 12]) {
      await page.locator('.flow-body .flow-row').nth(index).click();
      await expect.poll(() => page.locator('#detail-json').textContent()).toBe(jsonText[index]);
    }
    await page.screenshot({ path: join(OUTPUT_DIR, 'flows.png') });
    await page.click('#detail-close');
    await expect(page.locator('#detail').isHidden()).resolves.toBe(true);
  });

  it('opens the flows of an edge or a node clicked on the map', async () => {
    const want = expectedMap(flows);
    await page.click('#tab-map');
    await page.locator('g.map-edge[data-id="shop/cart -> db/postgres-0"] .edge-label').click();
    await expect.poll(() => page.locator('#view-flows').isVisible()).toBe(true);
    expect(await page.locator('#selection-label').textContent()).toBe('Flows cart → postgres-0');
    const edgeRows = await tableLines(page);
    expect(edgeRows).toHaveLength(want.edges.get('shop/cart -> db/postgres-0')!.flows);
    expect(edgeRows).toEqual(compact.filter((l) => l.includes('shop/cart-') && l.includes('db/postgres-0')));

    await page.click('#tab-map');
    await page.locator('g.map-node[data-id="reserved:world"] circle').click();
    expect(await page.locator('#selection-label').textContent()).toBe('Flows from or to reserved:world');
    expect(await tableLines(page)).toEqual(compact.filter((l) => l.includes('(world)')));
    await page.click('#selection-clear');
    await expect.poll(() => page.locator('.flow-body .flow-row').count()).toBe(flows.length);
  });

  it('takes hubble observe filter flags and shows what observe shows for them', async () => {
    for (const flags of [
      ['--port', '8080', '--not', '--protocol', 'udp'],
      ['--to-namespace', 'db'],
      ['--from-pod', 'shop/frontend', '--type', 'trace:from-network', '--tcp-flags', 'SYN'],
      ['--ip', '203.0.113.7', '--first', '1'],
    ]) {
      await applyFilter(page, flags.join(' '));
      const want = await observe(...(flags.includes('--first') ? [] : ['--all']), ...flags);
      expect(await tableLines(page), flags.join(' ')).toEqual(want);
      expect(want.length, flags.join(' ')).toBeGreaterThan(0);
    }
  });

  it('says what is wrong with a filter it cannot read, and serves the next one', async () => {
    for (const [flags, message] of [
      ['--port', 'filter: --port needs a value'],
      ['--bogus 1', 'filter: unknown flag --bogus'],
      ['--not', 'filter: trailing --not found in the arguments'],
      ['--port 80 --to-port 81', 'filter: filters --port and --to-port cannot be combined'],
      ['--cel-expression "flow.verdict =="', 'filter: '],
    ] as const) {
      await page.fill('#filter', flags);
      await page.click('#apply');
      await expect.poll(() => page.locator('#query-error').textContent(), { message: flags }).toContain(message);
      await expect.poll(() => page.locator('#stream-state').getAttribute('data-state')).toBe('failed');
    }
    await applyFilter(page, '--verdict FORWARDED');
    expect(await page.locator('#query-error').textContent()).toBe('');
    expect(await page.locator('.flow-body .flow-row').count()).toBe(flows.length);
  });

  it('applies a filter to a table scrolled down to its newest flows (as it is while following), and follows on', async () => {
    await page.click('#tab-flows');
    // Short enough that the newest flows are well below the top: the filtered view is shorter than the scroll.
    await page.setViewportSize({ width: 1400, height: 200 });
    try {
      await applyFilter(page, '--all', true);
      await expect.poll(() => page.locator('.flow-scroller').evaluate((el) => el.scrollTop)).toBeGreaterThan(300);
      await page.fill('#filter', '--ip 203.0.113.7');
      await page.click('#apply');
      await page.waitForSelector('#stream-state[data-state="following"]');
      const want = await observe('--all', '--ip', '203.0.113.7');
      expect(want.length).toBeGreaterThan(0);
      await expect.poll(() => tableLines(page)).toEqual(want);
      expect(await page.locator('#stream-state').getAttribute('data-received')).toBe(String(want.length));
      expect(pageErrors.map((e) => e.message)).toEqual([]);
    } finally {
      await page.setViewportSize({ width: 1400, height: 900 });
    }
  });

  it('says it follows when --follow is typed with the Follow switch off', async () => {
    await page.fill('#filter', '--last 3 --follow');
    await page.setChecked('#follow', false);
    await page.click('#apply');
    await page.waitForSelector('#stream-state[data-state="following"][data-received="3"]');
    expect(await page.locator('#stream-state').textContent()).toMatch(/^following · 3 flows/);
  });

  it('shows the query of a link edited in the address bar', async () => {
    await page.evaluate("location.hash = '#view=flows&filter=--ip+203.0.113.7+--first+1&follow=0'");
    await page.waitForSelector('#stream-state[data-state="complete"][data-received="1"]');
    expect(await page.inputValue('#filter')).toBe('--ip 203.0.113.7 --first 1');
    expect(await tableLines(page)).toEqual(await observe('--ip', '203.0.113.7', '--first', '1'));
    expect(await page.locator('#stream-state').textContent()).toMatch(/^complete · 1 flow(?!s)/);
  });

  it('shows one namespace picked in the namespace picker', async () => {
    await applyFilter(page, '', true);
    const options = await page.locator('#namespace option').allTextContents();
    expect(options).toEqual(['All namespaces', 'db', 'shop']);
    await page.selectOption('#namespace', 'db');
    await page.waitForSelector('#stream-state[data-state="following"]');
    await page.click('#tab-map');
    const want = await observe('--all', '--namespace', 'db');
    await expect.poll(() => page.locator('#stream-state').getAttribute('data-received')).toBe(String(want.length));
    await expect
      .poll(async () => (await attributes(page.locator('g.map-node'), ['data-id'])).map((n) => n['data-id']).sort())
      .toEqual(['db/postgres-0', 'shop/cart']);
    await page.selectOption('#namespace', '');
    await page.waitForSelector('#stream-state[data-state="following"]');
  });

  it('adds flows to the map and the table as they arrive while following', async () => {
    await expect.poll(() => page.locator('g.map-node').count()).toBe(4);
    await sendLive(3);
    // Loopback traffic is this host talking to itself.
    const edge = page.locator('g.map-edge[data-id="reserved:host -> reserved:host"]');
    await expect.poll(() => edge.getAttribute('data-flows'), { timeout: 10_000 }).toBe('3');
    expect(await edge.getAttribute('data-protocols')).toBe(`UDP ${livePort}`);
    await page.click('#tab-flows');
    const all = await observe('--all');
    expect(all).toHaveLength(flows.length + 3);
    await expect.poll(() => tableLines(page)).toEqual(all);
  });

  it('starts a recording from the form, shows its statistics moving, stops it and downloads a pcap tshark reads', async () => {
    await page.click('#tab-recordings');
    const filter = page.locator('#rec-filters .rec-filter').first();
    await filter.locator('[name="sourceCidr"]').fill('127.0.0.1/32');
    await filter.locator('[name="destinationCidr"]').fill('127.0.0.1/32');
    await filter.locator('[name="destinationPort"]').fill(String(livePort));
    await filter.locator('[name="protocol"]').selectOption('UDP');
    await page.fill('[name="filePrefix"]', 'uitest');
    await page.fill('[name="durationSeconds"]', '120');
    await page.click('#rec-start');
    await expect
      .poll(() => page.locator('#rec-message').textContent())
      .toMatch(/^Recording uitest_\d+_\d+_shop-node\.pcap$/);
    const name = (await page.locator('#rec-message').textContent())!.replace('Recording ', '');
    const row = page.locator(`#rec-list tr[data-name="${name}"]`);
    await expect.poll(() => row.getAttribute('data-running')).toBe('true');

    // The packet count moves while datagrams arrive: first 2, then 7.
    await sendLive(2);
    await expect.poll(() => row.locator('.packets').textContent(), { timeout: 10_000 }).toBe('2');
    await sendLive(5);
    await expect.poll(() => row.locator('.packets').textContent(), { timeout: 10_000 }).toBe('7');
    await page.screenshot({ path: join(OUTPUT_DIR, 'recordings.png') });

    await row.locator('button[data-action="stop"]').click();
    await expect.poll(() => row.getAttribute('data-running')).toBe('false');
    expect(await row.locator('.packets').textContent()).toBe('7');
    expect(await row.locator('button[data-action="stop"]').count()).toBe(0);

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row.locator('a', { hasText: 'Download' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(name);
    const saved = join(OUTPUT_DIR, name);
    await download.saveAs(saved);
    const frames = await tsharkFields(saved, ['ip.src', 'ip.dst', 'udp.dstport']);
    expect(frames).toEqual(Array.from({ length: 7 }, () => ['127.0.0.1', '127.0.0.1', String(livePort)]));

    // Deleting asks once more, then the file is gone from the node.
    await row.locator('button[data-action="delete"]').click();
    expect(await row.locator('button[data-action="delete"]').textContent()).toBe('Really delete?');
    await row.locator('button[data-action="delete"]').click();
    await expect.poll(() => row.count()).toBe(0);
    expect(existsSync(join(dir, 'recordings', name))).toBe(false);
  });

  it('refuses a recording without a limit, saying why', async () => {
    await page.fill('[name="durationSeconds"]', '0');
    await page.click('#rec-start');
    await expect
      .poll(() => page.locator('#rec-message').textContent())
      .toBe(
        'give a limit (packets, bytes or a duration): a recording started here keeps running after the page closes',
      );
    await page.fill('[name="durationSeconds"]', '60');
    const filter = page.locator('#rec-filters .rec-filter').first();
    await filter.locator('[name="sourceCidr"]').fill('10.0.0.0/33');
    await page.click('#rec-start');
    await expect
      .poll(() => page.locator('#rec-message').textContent())
      .toContain('failed to parse source cidr "10.0.0.0/33"');
  });
});

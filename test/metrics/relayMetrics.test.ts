// `hubble-ts relay --metrics-address`: what hubble-relay exports (its peers by connection status) and the process
// metrics, scraped over HTTP while nodes come and go.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../../src/server/node.js';
import type { CliProcess } from '../harness/cli.js';
import {
  craftCapture,
  freePort,
  startPeerService,
  startRelayProcess,
  startTestNode,
  tempDir,
  type TestPeerService,
} from '../relay/harness.js';
import { httpGet, scrape, series, valueOf } from './promText.js';

const STATUSES = ['IDLE', 'CONNECTING', 'READY', 'TRANSIENT_FAILURE', 'SHUTDOWN', 'NIL_CONNECTION'];

describe('hubble-ts relay --metrics-address', () => {
  let dir: string;
  const nodes: RunningNode[] = [];
  let peerService: TestPeerService;
  let relay: CliProcess & { port: number };
  let metricsPort: number;

  /** The relay's peers by status, once they are as `want` says (or whatever they are after 15 s). */
  async function statusesOnce(want: Record<string, number>): Promise<Record<string, number>> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const scraped = await scrape(metricsPort);
      const got = Object.fromEntries(
        series(scraped, 'hubble_relay_pool_peer_connection_status').map(([l, v]) => [l['status']!, v]),
      );
      if (Object.entries(want).every(([s, n]) => got[s] === n) || Date.now() > deadline) return got;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  beforeAll(async () => {
    dir = tempDir('relay-metrics');
    for (const [i, name] of ['alpha', 'beta'].entries()) {
      nodes.push(await startTestNode({ name, dir, source: `pcap:${craftCapture(dir, i, 2, 4)}` }));
    }
    const nobody = await freePort();
    peerService = await startPeerService(join(dir, 'peers.sock'), [
      { name: 'alpha', address: `127.0.0.1:${nodes[0]!.tcpPort}` },
      { name: 'beta', address: `127.0.0.1:${nodes[1]!.tcpPort}` },
      { name: 'gamma', address: `127.0.0.1:${nobody}` },
    ]);
    metricsPort = await freePort();
    relay = await startRelayProcess([
      '--peer-service',
      peerService.target,
      '--disable-client-tls',
      '--disable-server-tls',
      '--dial-timeout',
      '2s',
      '--retry-timeout',
      '1s',
      '--metrics-address',
      `127.0.0.1:${metricsPort}`,
    ]);
  });

  afterAll(async () => {
    await relay?.stop();
    await peerService?.close();
    await Promise.all(nodes.map((n) => n.close()));
  });

  it('reports every peer connection status, the reachable nodes READY and the unreachable one TRANSIENT_FAILURE', async () => {
    const got = await statusesOnce({ READY: 2, TRANSIENT_FAILURE: 1 });
    expect(got).toEqual({
      IDLE: 0,
      CONNECTING: 0,
      READY: 2,
      TRANSIENT_FAILURE: 1,
      SHUTDOWN: 0,
      NIL_CONNECTION: 0,
    });
    const scraped = await scrape(metricsPort);
    expect(scraped.types.get('hubble_relay_pool_peer_connection_status')).toBe('gauge');
    expect(Object.keys(got).sort()).toEqual([...STATUSES].sort());
    expect(valueOf(scraped, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(valueOf(scraped, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect((await httpGet(metricsPort, '/')).status).toBe(404);
  });

  it('follows a node that goes away and one the Peer service drops', async () => {
    await nodes[1]!.close();
    expect(await statusesOnce({ READY: 1, TRANSIENT_FAILURE: 2 })).toMatchObject({ READY: 1 });
    peerService.set([{ name: 'alpha', address: `127.0.0.1:${nodes[0]!.tcpPort}` }]);
    expect(await statusesOnce({ READY: 1, TRANSIENT_FAILURE: 0, CONNECTING: 0 })).toEqual({
      IDLE: 0,
      CONNECTING: 0,
      READY: 1,
      TRANSIENT_FAILURE: 0,
      SHUTDOWN: 0,
      NIL_CONNECTION: 0,
    });
  });
});

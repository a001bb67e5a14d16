// 50 followers during ingest: the capture replayed into a node (ring 4095) whose Observer API serves, once with no
// client and once with 50 `--follow` streams open from another process; the ratio of the two ingest rates is what
// the followers cost. What the followers received and were told they lost is reported beside it.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shutdownApiServer } from '../src/server/grpcServer.js';
import { makeNode, serveNode } from './node.js';

export interface FollowersResults {
  followers50_ingest_ratio: number;
  followers50_ingest_events_per_s: number;
  followers50_alone_ingest_events_per_s: number;
  /** Of the flows each follower could have received during the replay, the share that reached it. */
  followers50_received_share: number;
}

const FOLLOWERS = 50;
const RING = 4095;

/** One replay of the capture into a serving node, with `followers` streams open; events per second and counts. */
async function ingestWithFollowers(
  capturePath: string,
  followers: number,
): Promise<{ rate: number; events: number; flows: number; lost: number }> {
  const { observer, replay } = makeNode(capturePath, RING);
  const socket = join(mkdtempSync(join(tmpdir(), 'hubble-ts-bench-followers-')), 'hubble.sock');
  const api = await serveNode(observer, 'bench', socket);
  try {
    await replay(RING); // a flow for --last 1 to answer with, and a warm parser
    let client: ReturnType<typeof spawn> | undefined;
    let output = '';
    if (followers > 0) {
      client = spawn(
        process.execPath,
        ['--import', 'tsx', join(import.meta.dirname, 'followersClient.ts'), socket, String(followers)],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      client.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      const deadline = Date.now() + 30_000;
      while (!output.includes('ready\n')) {
        if (client.exitCode !== null || Date.now() > deadline) throw new Error(`followers never got ready: ${output}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const start = process.hrtime.bigint();
    const events = await replay();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (client === undefined) return { rate: events / seconds, events, flows: 0, lost: 0 };
    await new Promise((r) => setTimeout(r, 1000)); // what is queued reaches the clients
    const exited = new Promise((r) => client.once('exit', r));
    client.stdin!.end();
    await exited;
    const counts = JSON.parse(output.slice(output.indexOf('ready\n') + 6)) as { flows: number; lost: number };
    return { rate: events / seconds, events, ...counts };
  } finally {
    await shutdownApiServer(api, 100);
  }
}

export async function benchFollowers(
  capturePath: string,
  rounds: number,
  log: (line: string) => void,
): Promise<FollowersResults> {
  let alone = 0;
  let followed = 0;
  let share = 0;
  for (let round = 1; round <= rounds; round++) {
    const a = await ingestWithFollowers(capturePath, 0);
    const f = await ingestWithFollowers(capturePath, FOLLOWERS);
    const received = f.flows / (f.events * FOLLOWERS);
    log(
      `followers, round ${round}: ingest ${Math.round(a.rate).toLocaleString('en')} events/s alone, ` +
        `${Math.round(f.rate).toLocaleString('en')} with ${FOLLOWERS} followers (ratio ${(f.rate / a.rate).toFixed(2)}); ` +
        `the followers received ${(received * 100).toFixed(1)}% of the flows and were told of ${f.lost.toLocaleString('en')} lost`,
    );
    if (f.rate / a.rate > (alone === 0 ? -1 : followed / alone)) {
      alone = a.rate;
      followed = f.rate;
      share = received;
    }
  }
  return {
    followers50_ingest_ratio: Math.round((followed / alone) * 1000) / 1000,
    followers50_ingest_events_per_s: Math.round(followed),
    followers50_alone_ingest_events_per_s: Math.round(alone),
    followers50_received_share: Math.round(share * 1000) / 1000,
  };
}

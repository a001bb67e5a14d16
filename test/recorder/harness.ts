// What the recorder tests share: a real node on a real unix socket (its only source an empty capture, so tests decide
// when packets flow), synthetic captures with known 5-tuples replayed through the node's monitor agent, a Record
// stream that collects what the server says, and tshark's reading of the files produced.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { RecordingsClient } from '../../src/api/hubblets/recordings/v1/recordings.js';
import {
  RecorderClient,
  RecordRequest,
  type DeepPartial,
  type RecordResponse,
  type StartRecording,
} from '../../src/api/recorder/recorder.js';
import { resolveSettings, type Settings } from '../../src/server/config.js';
import { startNode, type NodeOverrides, type RunningNode } from '../../src/server/node.js';
import { SERVE_SETTINGS, toServeOptions } from '../../src/server/serveOptions.js';
import { parseSourceSpec } from '../../src/source/source.js';
import { ethernet, icmp, ipv4, ipv6, tcp, udp } from '../harness/frames.js';
import { writePcap, type PcapRecord } from '../harness/pcapFiles.js';
import { tsharkFields } from '../harness/tshark.js';

export interface TestNode {
  node: RunningNode;
  dir: string;
  socket: string;
  recordingsDir: string;
  recorder: RecorderClient;
  recordings: RecordingsClient;
  close(): Promise<void>;
}

/** A capture file with no packets: a source the node accepts that publishes nothing. */
export function emptyCapture(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'hubble-ts-empty-')), 'empty.pcap');
  writeFileSync(path, writePcap([], { linkType: 1 }));
  return path;
}

export async function startTestNode(settings: Settings = {}, overrides: NodeOverrides = {}): Promise<TestNode> {
  const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-rec-'));
  const socket = join(dir, 'hubble.sock');
  const recordingsDir = join(dir, 'recordings');
  const opts = toServeOptions(
    resolveSettings(SERVE_SETTINGS, {
      source: [`pcap:${emptyCapture()}`],
      'socket-path': socket,
      'recordings-dir': recordingsDir,
      'node-name': 'rec-node',
      ...settings,
    }),
  );
  const node = await startNode(opts, pino({ level: 'silent' }), overrides);
  await node.sourcesDone;
  const recorder = new RecorderClient(`unix://${socket}`, grpc.credentials.createInsecure());
  const recordings = new RecordingsClient(`unix://${socket}`, grpc.credentials.createInsecure());
  return {
    node,
    dir,
    socket,
    recordingsDir,
    recorder,
    recordings,
    async close() {
      recorder.close();
      recordings.close();
      await node.close();
    },
  };
}

/** Replays a capture through the node's monitor agent, as a source would; resolves when every packet is published. */
export async function replay(node: RunningNode, pcap: string): Promise<void> {
  const source = parseSourceSpec(`pcap:${pcap}`, { nodeName: 'rec-node' });
  await source.run((event) => node.agent.publish(event), new AbortController().signal);
}

/** Five kinds of packets per round, each with a known 5-tuple, so every filter's expected matches are known. */
export interface SyntheticPacket {
  src: string;
  dst: string;
  protocol: 'tcp' | 'udp' | 'icmp';
  sport: number;
  dport: number;
  length: number;
}

export function syntheticPackets(rounds: number, payload = 200): SyntheticPacket[] {
  const out: SyntheticPacket[] = [];
  for (let i = 0; i < rounds; i++) {
    out.push({
      src: `10.0.0.${(i % 4) + 1}`,
      dst: '192.168.1.10',
      protocol: 'tcp',
      sport: 40000 + i,
      dport: 80,
      length: 0,
    });
    out.push({ src: '10.0.0.1', dst: '192.168.1.10', protocol: 'udp', sport: 5353, dport: 53, length: 0 });
    out.push({ src: '172.16.0.1', dst: '192.168.1.10', protocol: 'tcp', sport: 1234, dport: 80, length: 0 });
    out.push({ src: '10.0.0.1', dst: '192.168.1.10', protocol: 'tcp', sport: 1234, dport: 443, length: 0 });
    out.push({ src: 'fd00::1', dst: 'fd00::2', protocol: 'udp', sport: 5353, dport: 53, length: 0 });
    out.push({ src: '10.0.0.1', dst: '192.168.1.10', protocol: 'icmp', sport: 0, dport: 0, length: 0 });
  }
  const data = new Uint8Array(payload).fill(0x5a);
  for (const p of out) p.length = frameOf(p, data).length;
  return out;
}

function frameOf(p: SyntheticPacket, data: Uint8Array): Uint8Array {
  const v6 = p.src.includes(':');
  const l4 =
    p.protocol === 'tcp'
      ? tcp({ sport: p.sport, dport: p.dport, flags: 0x18 }, data)
      : p.protocol === 'udp'
        ? udp(p.sport, p.dport, data)
        : icmp(8, 0, 1, 1, data);
  const number = p.protocol === 'tcp' ? 6 : p.protocol === 'udp' ? 17 : v6 ? 58 : 1;
  return v6
    ? ethernet({ type: 0x86dd }, ipv6({ src: p.src, dst: p.dst, next: number }, l4))
    : ethernet({ type: 0x0800 }, ipv4({ src: p.src, dst: p.dst, protocol: number }, l4));
}

/** Writes the packets to a pcap file (one per millisecond from `startSeconds`); resolves with its path. */
export function writeSyntheticCapture(
  packets: readonly SyntheticPacket[],
  payload = 200,
  startSeconds = 1_700_000_000,
): string {
  const data = new Uint8Array(payload).fill(0x5a);
  const records: PcapRecord[] = packets.map((p, i) => ({
    seconds: startSeconds + Math.floor(i / 1000),
    fraction: (i % 1000) * 1000,
    data: frameOf(p, data),
  }));
  const path = join(mkdtempSync(join(tmpdir(), 'hubble-ts-syn-')), 'synthetic.pcap');
  writeFileSync(path, writePcap(records, { linkType: 1 }));
  return path;
}

/** A Record stream: sends what the test says, collects every response, and settles with how the stream ended. */
export class RecordStream {
  readonly responses: RecordResponse[] = [];
  readonly call: grpc.ClientDuplexStream<RecordRequest, RecordResponse>;
  /** Resolves with the error status, or undefined when the server ended the stream with OK. */
  readonly ended: Promise<grpc.ServiceError | undefined>;
  private waiters: Array<() => void> = [];

  constructor(client: RecorderClient) {
    this.call = client.record();
    this.call.on('data', (r: RecordResponse) => {
      this.responses.push(r);
      for (const w of this.waiters.splice(0)) w();
    });
    this.ended = new Promise((resolve) => {
      this.call.on('error', (err: grpc.ServiceError) => resolve(err));
      this.call.on('end', () => resolve(undefined));
    });
  }

  start(partial: DeepPartial<StartRecording>): this {
    this.call.write(RecordRequest.fromPartial({ start: partial }));
    return this;
  }

  stop(): void {
    this.call.write(RecordRequest.fromPartial({ stop: {} }));
  }

  /** Waits for a response matching `predicate` (already received or still to come). */
  async waitFor(predicate: (r: RecordResponse) => boolean, timeoutMs = 10_000): Promise<RecordResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.responses.find(predicate);
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(`no matching response in ${timeoutMs} ms: ${JSON.stringify(this.responses)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  running(): Promise<RecordResponse> {
    return this.waitFor((r) => r.running !== undefined);
  }

  stopped(): Promise<RecordResponse> {
    return this.waitFor((r) => r.stopped !== undefined);
  }
}

export const anyFilter = {
  sourceCidr: '0.0.0.0/0',
  sourcePort: 0,
  destinationCidr: '0.0.0.0/0',
  destinationPort: 0,
  protocol: 0,
};

/** tshark's reading of a recording: one row per packet (throws when tshark cannot read the file). */
export async function readRecording(path: string): Promise<Array<Record<string, string>>> {
  const fields = [
    'frame.len',
    'frame.cap_len',
    'ip.src',
    'ip.dst',
    'ipv6.src',
    'ipv6.dst',
    'ip.proto',
    'tcp.srcport',
    'tcp.dstport',
    'udp.srcport',
    'udp.dstport',
  ];
  const rows = await tsharkFields(path, fields);
  return rows.map((row) => Object.fromEntries(fields.map((f, i) => [f, row[i] ?? ''])));
}

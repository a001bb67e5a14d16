// Test-only pcap plumbing: write crafted frames to a pcap file with text2pcap (so tshark judges the very same bytes),
// read classic pcap files back (a minimal reader for tests, not the product's pcap reader), and get tshark's view of
// every frame as named fields.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Writes Ethernet frames to a new pcap file through text2pcap; resolves with its path. */
export async function writePcapWithText2pcap(frames: readonly Uint8Array[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-frames-'));
  const lines: string[] = [];
  for (const frame of frames) {
    for (let o = 0; o < frame.length; o += 16) {
      const bytes = Array.from(frame.subarray(o, o + 16), (b) => b.toString(16).padStart(2, '0')).join(' ');
      lines.push(`${o.toString(16).padStart(6, '0')} ${bytes}`);
    }
  }
  const text = join(dir, 'frames.txt');
  const pcap = join(dir, 'frames.pcap');
  writeFileSync(text, lines.join('\n') + '\n');
  await run('text2pcap', ['-q', '-l', '1', text, pcap]);
  return pcap;
}

export interface TestPcapFrame {
  seconds: number;
  nanos: number;
  originalLength: number;
  data: Uint8Array;
}

/** Reads a classic (not pcapng) pcap file: link type and frames. Test-only; enough for tcpdump and text2pcap output. */
export function readClassicPcapForTests(path: string): { linkType: number; frames: TestPcapFrame[] } {
  const file = readFileSync(path);
  const magic = file.readUInt32LE(0);
  let littleEndian: boolean;
  let nanoResolution: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) {
    littleEndian = true;
    nanoResolution = magic === 0xa1b23c4d;
  } else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) {
    littleEndian = false;
    nanoResolution = magic === 0x4d3cb2a1;
  } else {
    throw new Error(`${path}: not a classic pcap file (magic ${magic.toString(16)})`);
  }
  const u32 = (o: number) => (littleEndian ? file.readUInt32LE(o) : file.readUInt32BE(o));
  const linkType = u32(20) & 0x0fffffff;
  const frames: TestPcapFrame[] = [];
  for (let o = 24; o + 16 <= file.length;) {
    const seconds = u32(o);
    const fraction = u32(o + 4);
    const capturedLength = u32(o + 8);
    const originalLength = u32(o + 12);
    const data = new Uint8Array(file.subarray(o + 16, o + 16 + capturedLength));
    frames.push({ seconds, nanos: nanoResolution ? fraction : fraction * 1000, originalLength, data });
    o += 16 + capturedLength;
  }
  return { linkType, frames };
}

/** The tshark fields the packet tests compare against, in this order. */
export const TSHARK_FIELDS = [
  'frame.protocols',
  'eth.src',
  'eth.dst',
  'vlan.id',
  'ieee8021ad.id',
  'arp.opcode',
  'arp.src.proto_ipv4',
  'arp.dst.proto_ipv4',
  'arp.src.hw_mac',
  'ip.src',
  'ip.dst',
  'ip.proto',
  'ip.flags.mf',
  'ip.frag_offset',
  'ipv6.src',
  'ipv6.dst',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.flags',
  'udp.srcport',
  'udp.dstport',
  'icmp.type',
  'icmp.code',
  'icmp.ident',
  'icmpv6.type',
  'icmpv6.code',
  'sctp.srcport',
  'sctp.dstport',
  'sctp.chunk_type',
  'igmp.type',
  'igmp.maddr',
  'vrrp.type',
  'vrrp.virt_rtr_id',
  'vrrp.prio',
  'dns.qry.name',
  'dns.a',
  'dns.aaaa',
  'dns.cname',
  'dns.resp.ttl',
] as const;
export type TsharkField = (typeof TSHARK_FIELDS)[number];
export type TsharkFrame = Partial<Record<TsharkField, string>>;

/**
 * tshark's reading of every frame: the first occurrence of each field (all occurrences, comma-separated, for the DNS
 * answer fields). IP reassembly is off so that a lone first fragment is dissected as tshark would without its peers.
 */
export async function tsharkFrames(path: string): Promise<TsharkFrame[]> {
  const multi = new Set<TsharkField>(['dns.a', 'dns.aaaa', 'dns.cname', 'dns.resp.ttl']);
  const args = ['-r', path, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  args.push('-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE', '-o', 'tcp.desegment_tcp_streams:FALSE');
  for (const f of TSHARK_FIELDS) args.push('-e', f);
  const { stdout } = await run('tshark', args, { maxBuffer: 256 * 1024 * 1024 });
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const values = line.split('\t');
      const frame: TsharkFrame = {};
      TSHARK_FIELDS.forEach((field, i) => {
        const value = values[i] ?? '';
        if (value === '') return;
        frame[field] = multi.has(field) ? value : value.split(',')[0]!;
      });
      return frame;
    });
}

// The real captures the replay tests read: tcpdump on loopback, on "any" (cooked v1 and v2) and at nanosecond
// precision while known traffic runs (including frames that really leave an interface, through a veth pair into
// a network namespace), then every other format made from them by editcap, mergecap and our own writer.
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { captureWhile } from '../harness/capture.js';
import { vethNamespace } from '../harness/netns.js';
import { readPcap, writePcap, writePcapng, type PcapngBlock, type PcapRecord } from '../harness/pcapFiles.js';

const run = promisify(execFile);

/** One file to replay and how its frames relate to tshark's view of them. */
export interface CaptureCase {
  name: string;
  path: string;
  /** Bytes of link header before the network layer of each frame (cooked, raw, loopback), or -1 for Ethernet. */
  linkHeader?: (frameIndex: number) => number;
  /** The ifindex each event must carry, where tshark's view cannot tell it. */
  ifindex?: (frameIndex: number) => number;
}

async function udpSend(host: string, port: number, payloads: string[]): Promise<void> {
  const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  for (const p of payloads) {
    await new Promise<void>((resolve, reject) => sock.send(p, port, host, (err) => (err ? reject(err) : resolve())));
  }
  await new Promise((r) => setTimeout(r, 50));
  sock.close();
}

/** A closed UDP port: bound once to learn a free number, then released (datagrams to it draw ICMP errors). */
async function closedUdpPort(): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const port = sock.address().port;
  sock.close();
  return port;
}

async function tcpConversation(host: string, port: number, messages: Buffer[]): Promise<void> {
  const sock: Socket = connect(port, host);
  await new Promise<void>((r) => sock.once('connect', r));
  for (const m of messages) {
    let echoed = 0;
    await new Promise<void>((resolve) => {
      const onData = (d: Buffer) => {
        echoed += d.length;
        if (echoed >= m.length) {
          sock.off('data', onData);
          resolve();
        }
      };
      sock.on('data', onData);
      sock.write(m);
    });
  }
  await new Promise<void>((r) => sock.end(r));
  await new Promise((r) => sock.once('close', r));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Frames of a cooked capture with the cooked header replaced by `header(record)` (for raw IP, BSD loopback). */
function recook(
  records: PcapRecord[],
  strip: number,
  header: (ipVersion: number) => Uint8Array | undefined,
): PcapRecord[] {
  const out: PcapRecord[] = [];
  for (const r of records) {
    const ip = r.data.subarray(strip);
    const version = ip[0]! >> 4;
    if (version !== 4 && version !== 6) continue;
    const head = header(version);
    if (head === undefined) continue;
    out.push({
      seconds: r.seconds,
      fraction: r.fraction,
      data: concat([head, ip]),
      origLen: (r.origLen ?? r.data.length) - strip + head.length,
    });
  }
  return out;
}

/** pcapng timestamp units for a record with microsecond or nanosecond fraction. */
function units(r: PcapRecord, fractionPerSecond: number, resolution: number, offsetSeconds = 0): bigint {
  const nanos = BigInt(r.fraction) * (1_000_000_000n / BigInt(fractionPerSecond));
  const seconds = BigInt(r.seconds - offsetSeconds);
  if (resolution & 0x80) {
    const shift = BigInt(resolution & 0x7f);
    return (seconds << shift) + (nanos << shift) / 1_000_000_000n;
  }
  const perSecond = 10n ** BigInt(resolution);
  return seconds * perSecond + (nanos * perSecond) / 1_000_000_000n;
}

export interface Captures {
  dir: string;
  cases: CaptureCase[];
  /** The veth end the traffic left through (its ifindex appears in cooked v2 captures). */
  vethIfindex: number;
  byName(name: string): CaptureCase;
}

/** Captures real traffic in every way the tests need and derives the other formats. Takes a few seconds. */
export async function makeCaptures(): Promise<Captures> {
  const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-source-'));
  const veth = await vethNamespace('src');
  const server = createServer((sock) => {
    sock.on('data', (d) => sock.write(d));
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '::', r));
  const tcpPort = (server.address() as { port: number }).port;
  const udpPort = await closedUdpPort();
  try {
    // ICMP only as the answers to our own datagrams (port unreachable, quoting our UDP port after the 8-byte ICMP header
    // and a 20- or 40-byte IP header): other tests' traffic on loopback draws ICMP errors too, by the thousand in a flood.
    const ourUnreachables =
      `(icmp[icmptype] == icmp-unreach and icmp[30:2] == ${udpPort}) or ` +
      `(icmp6 and ip6[40] == 1 and ip6[90:2] == ${udpPort})`;
    const filter = `tcp port ${tcpPort} or udp port ${udpPort} or ${ourUnreachables} or arp`;
    const traffic = async () => {
      await tcpConversation('127.0.0.1', tcpPort, [
        Buffer.from('hello over IPv4\n'),
        Buffer.alloc(150_000, 0x61),
        Buffer.from('bye\n'),
      ]);
      await tcpConversation('::1', tcpPort, [Buffer.from('hello over IPv6\n')]);
      await udpSend('127.0.0.1', udpPort, ['datagram 1', 'datagram 2']);
      await udpSend('::1', udpPort, ['datagram 6']);
      await udpSend(veth.peerAddress, udpPort, ['leaves through the veth 1', 'leaves through the veth 2']);
    };
    const paths = {
      eth: join(dir, 'eth.pcap'),
      ethNano: join(dir, 'eth-nano.pcap'),
      sll: join(dir, 'sll.pcap'),
      sll2: join(dir, 'sll2.pcap'),
    };
    const nested = (
      specs: { path: string; iface?: string; extraArgs?: string[] }[],
      inner: () => Promise<void>,
    ): (() => Promise<void>) =>
      specs.reduceRight<() => Promise<void>>(
        (next, spec) => async () => {
          const file = await captureWhile(filter, next, { iface: spec.iface, extraArgs: spec.extraArgs });
          writeFileSync(spec.path, readFileSync(file));
          rmSync(dirname(file), { recursive: true, force: true });
        },
        inner,
      );
    await nested(
      [
        { path: paths.eth },
        { path: paths.ethNano, extraArgs: ['--time-stamp-precision=nano'] },
        { path: paths.sll, iface: 'any', extraArgs: ['-y', 'LINUX_SLL', '-B', '32768'] },
        { path: paths.sll2, iface: 'any', extraArgs: ['-y', 'LINUX_SLL2', '-B', '32768'] },
      ],
      traffic,
    )();
  } finally {
    server.close();
    await veth.close();
  }

  const path = (name: string) => join(dir, name);
  const editcap = (args: string[]) => run('editcap', args);
  await editcap(['-F', 'pcapng', path('eth.pcap'), path('eth.pcapng')]);
  await editcap(['-F', 'pcapng', path('eth-nano.pcap'), path('eth-nano.pcapng')]);
  await editcap(['-F', 'nsecpcap', path('eth.pcap'), path('eth-nsec.pcap')]);
  await editcap(['-F', 'pcapng', path('sll.pcap'), path('sll.pcapng')]);
  await editcap(['-s', '80', path('eth.pcap'), path('eth-sliced.pcap')]);
  await run('mergecap', ['-F', 'pcapng', '-w', path('merged.pcapng'), path('eth.pcap'), path('sll2.pcap')]);
  writeFileSync(path('sections.pcapng'), concat([readFileSync(path('eth.pcapng')), readFileSync(path('sll.pcapng'))]));

  const eth = readPcap(path('eth.pcap'));
  const ethNano = readPcap(path('eth-nano.pcap'));
  const sll = readPcap(path('sll.pcap'));
  const sll2 = readPcap(path('sll2.pcap'));
  writeFileSync(path('eth-be.pcap'), writePcap(eth.records, { linkType: 1, littleEndian: false }));
  writeFileSync(
    path('eth-nano-be.pcap'),
    writePcap(ethNano.records, { linkType: 1, littleEndian: false, nanosecond: true }),
  );
  writeFileSync(
    path('raw.pcap'),
    writePcap(
      recook(sll.records, 16, () => new Uint8Array(0)),
      { linkType: 101 },
    ),
  );
  writeFileSync(
    path('ipv4.pcap'),
    writePcap(
      recook(sll.records, 16, (v) => (v === 4 ? new Uint8Array(0) : undefined)),
      { linkType: 228 },
    ),
  );
  writeFileSync(
    path('ipv6.pcap'),
    writePcap(
      recook(sll.records, 16, (v) => (v === 6 ? new Uint8Array(0) : undefined)),
      { linkType: 229 },
    ),
  );
  // BSD loopback: the address family in the writer's byte order (NULL) or network order (LOOP); INET6 is 24 on NetBSD.
  const family = (v: number, le: boolean) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v === 4 ? 2 : 24, le);
    return b;
  };
  writeFileSync(
    path('null.pcap'),
    writePcap(
      recook(sll.records, 16, (v) => family(v, true)),
      { linkType: 0 },
    ),
  );
  writeFileSync(
    path('loop-be.pcap'),
    writePcap(
      recook(sll.records, 16, (v) => family(v, false)),
      { linkType: 108, littleEndian: false },
    ),
  );

  // pcapng as no tool here writes it: a big-endian section with nanosecond and power-of-two resolutions, a time
  // offset and direction flags, then a little-endian one with obsolete packet blocks, an unknown block and
  // simple packet blocks.
  const offset = 1_000_000_000;
  const crafted: PcapngBlock[] = [
    { type: 'section', littleEndian: false },
    { type: 'interface', linkType: 1, snaplen: 262144, name: 'lo', tsresol: 9 },
    { type: 'interface', linkType: 276, snaplen: 262144, name: 'any', tsresol: 0x80 | 20 },
    { type: 'interface', linkType: 113, snaplen: 0, name: 'any', tsresol: 6, tsoffset: BigInt(offset) },
    { type: 'other', blockType: 4, body: Uint8Array.of(0, 0, 0, 0) }, // an empty name resolution block
  ];
  for (const r of ethNano.records)
    crafted.push({ type: 'enhanced', interfaceId: 0, timestamp: units(r, 1e9, 9), data: r.data, origLen: r.origLen });
  for (const r of sll2.records)
    crafted.push({
      type: 'enhanced',
      interfaceId: 1,
      timestamp: units(r, 1e6, 0x80 | 20),
      data: r.data,
      origLen: r.origLen,
    });
  for (const r of sll.records) {
    // Direction flags that disagree with nothing: the cooked header decides for SLL frames anyway.
    crafted.push({
      type: 'enhanced',
      interfaceId: 2,
      timestamp: units(r, 1e6, 6, offset),
      data: r.data,
      origLen: r.origLen,
      flags: r.data[1] === 4 ? 2 : 1,
    });
  }
  crafted.push({ type: 'section', littleEndian: true });
  crafted.push({ type: 'interface', linkType: 1, snaplen: 65535 });
  crafted.push({ type: 'other', blockType: 0x40000bad, body: Uint8Array.of(1, 2, 3, 4, 5) });
  eth.records.forEach((r, i) => {
    crafted.push({
      type: 'packet',
      interfaceId: 0,
      timestamp: units(r, 1e6, 6),
      data: r.data,
      origLen: r.origLen,
      flags: i % 2 === 0 ? 1 : 2,
    });
  });
  for (const r of eth.records.slice(0, 5))
    crafted.push({ type: 'simple', data: r.data.subarray(0, Math.min(r.data.length, 65535)), origLen: r.origLen });
  writeFileSync(path('crafted.pcapng'), writePcapng(crafted));

  const sllHeader = () => 16;
  const cases: CaptureCase[] = [
    { name: 'pcap, microseconds, little-endian (tcpdump -i lo)', path: path('eth.pcap') },
    { name: 'pcap, nanoseconds (tcpdump --time-stamp-precision=nano)', path: path('eth-nano.pcap') },
    { name: 'pcap, nanoseconds (editcap -F nsecpcap)', path: path('eth-nsec.pcap') },
    { name: 'pcap, microseconds, big-endian', path: path('eth-be.pcap') },
    { name: 'pcap, nanoseconds, big-endian', path: path('eth-nano-be.pcap') },
    { name: 'pcap, sliced to 80 bytes (editcap -s 80)', path: path('eth-sliced.pcap') },
    { name: 'pcap, LINUX_SLL (tcpdump -i any)', path: path('sll.pcap'), linkHeader: sllHeader },
    { name: 'pcap, LINUX_SLL2 (tcpdump -i any -y LINUX_SLL2)', path: path('sll2.pcap'), linkHeader: () => 20 },
    { name: 'pcap, RAW', path: path('raw.pcap'), linkHeader: () => 0 },
    { name: 'pcap, IPV4', path: path('ipv4.pcap'), linkHeader: () => 0 },
    { name: 'pcap, IPV6', path: path('ipv6.pcap'), linkHeader: () => 0 },
    { name: 'pcap, NULL (BSD loopback)', path: path('null.pcap'), linkHeader: () => 4 },
    { name: 'pcap, LOOP, big-endian', path: path('loop-be.pcap'), linkHeader: () => 4 },
    { name: 'pcapng (editcap -F pcapng)', path: path('eth.pcapng') },
    { name: 'pcapng, nanoseconds (editcap of a nanosecond pcap)', path: path('eth-nano.pcapng') },
    { name: 'pcapng, LINUX_SLL', path: path('sll.pcapng'), linkHeader: sllHeader },
  ];
  // Files mixing link types: the header length depends on the frame; tshark tells by the IP offset, and ours by
  // frame index, computed from the pieces they were made of.
  const mergedHeaders = await frameLinkHeaders(path('merged.pcapng'));
  cases.push({
    name: 'pcapng, Ethernet and LINUX_SLL2 interfaces (mergecap)',
    path: path('merged.pcapng'),
    linkHeader: (i) => mergedHeaders[i]!,
  });
  const sectionHeaders = [...eth.records.map(() => -1), ...sll.records.map(() => 16)];
  cases.push({
    name: 'pcapng, two sections (eth.pcapng + sll.pcapng)',
    path: path('sections.pcapng'),
    linkHeader: (i) => sectionHeaders[i]!,
  });
  const craftedHeaders = [
    ...ethNano.records.map(() => -1),
    ...sll2.records.map(() => 20),
    ...sll.records.map(() => 16),
    ...eth.records.map(() => -1),
    ...eth.records.slice(0, 5).map(() => -1),
  ];
  // tshark 4.0 numbers interfaces across sections (the second section's interface 0 shows as the first's, "lo"),
  // where pcapng numbers them per section: the named interfaces are the first section's 0 ("lo") and 2 ("any").
  const craftedIfindex = [
    ...ethNano.records.map(() => 1),
    ...sll2.records.map(() => -1),
    ...sll.records.map(() => 3),
    ...eth.records.map(() => 0),
    ...eth.records.slice(0, 5).map(() => 0),
  ];
  cases.push({
    name: 'pcapng, crafted: big-endian, 2^-20 s, if_tsoffset, flags, PB, SPB, unknown blocks',
    path: path('crafted.pcapng'),
    linkHeader: (i) => craftedHeaders[i]!,
    ifindex: (i) => craftedIfindex[i]!,
  });

  return {
    dir,
    cases,
    vethIfindex: veth.ifindex,
    byName(name) {
      const found = cases.find((c) => c.name === name);
      if (!found) throw new Error(`no capture case ${name}`);
      return found;
    },
  };
}

/** Per frame of a pcapng file: the link header length of its interface (-1 for Ethernet), from tshark's encapsulation. */
async function frameLinkHeaders(path: string): Promise<number[]> {
  const { stdout } = await run('tshark', ['-r', path, '-T', 'fields', '-e', 'frame.encap_type']);
  // Wireshark's encapsulation numbers: 1 Ethernet, 25 Linux cooked (SLL), 210 SLL2.
  const byEncap: Record<string, number> = { '1': -1, '25': 16, '210': 20 };
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const header = byEncap[l.trim()];
      if (header === undefined) throw new Error(`unexpected encapsulation ${l} in ${path}`);
      return header;
    });
}

/** Names of the cases makeCaptures() returns, for test tables that must exist before the captures do. */
export const CASE_NAMES = [
  'pcap, microseconds, little-endian (tcpdump -i lo)',
  'pcap, nanoseconds (tcpdump --time-stamp-precision=nano)',
  'pcap, nanoseconds (editcap -F nsecpcap)',
  'pcap, microseconds, big-endian',
  'pcap, nanoseconds, big-endian',
  'pcap, sliced to 80 bytes (editcap -s 80)',
  'pcap, LINUX_SLL (tcpdump -i any)',
  'pcap, LINUX_SLL2 (tcpdump -i any -y LINUX_SLL2)',
  'pcap, RAW',
  'pcap, IPV4',
  'pcap, IPV6',
  'pcap, NULL (BSD loopback)',
  'pcap, LOOP, big-endian',
  'pcapng (editcap -F pcapng)',
  'pcapng, nanoseconds (editcap of a nanosecond pcap)',
  'pcapng, LINUX_SLL',
  'pcapng, Ethernet and LINUX_SLL2 interfaces (mergecap)',
  'pcapng, two sections (eth.pcapng + sll.pcapng)',
  'pcapng, crafted: big-endian, 2^-20 s, if_tsoffset, flags, PB, SPB, unknown blocks',
] as const;

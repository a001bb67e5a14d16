// tshark, the independent judge of our readers and decoders: the one way tests ask it for fields of every frame,
// the protocol fields the decoder tests compare against, and each capture record as it was read (time, lengths,
// bytes, where the IP layer starts, direction, interface, cooked-header fields).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TsharkFieldsOptions {
  /** Only the frames this display filter (-Y) selects. */
  displayFilter?: string;
  /** Every occurrence of a field, comma-separated, instead of the first only. */
  allOccurrences?: boolean;
  /** Dissector preferences (-o name:value). */
  preferences?: readonly string[];
  /** Decode-as rules (-d, e.g. "tcp.port==8080,http") for protocols on ports tshark does not guess. */
  decodeAs?: readonly string[];
}

/** tshark's reading of every frame: one array of field values per frame, in `fields` order ('' for an absent field). */
export async function tsharkFields(
  path: string,
  fields: readonly string[],
  options: TsharkFieldsOptions = {},
): Promise<string[][]> {
  const args = ['-r', path, '-T', 'fields', '-E', 'separator=\t'];
  args.push(...(options.allOccurrences ? ['-E', 'occurrence=a', '-E', 'aggregator=,'] : ['-E', 'occurrence=f']));
  for (const p of options.preferences ?? []) args.push('-o', p);
  for (const d of options.decodeAs ?? []) args.push('-d', d);
  for (const f of fields) args.push('-e', f);
  if (options.displayFilter !== undefined) args.push('-Y', options.displayFilter);
  const { stdout } = await run('tshark', args, { maxBuffer: 256 * 1024 * 1024 });
  const lines = stdout.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((line) => line.split('\t'));
}

/** The protocol fields the packet tests compare against. */
export const LAYER_FIELDS = [
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
export type LayerField = (typeof LAYER_FIELDS)[number];
export type TsharkLayers = Partial<Record<LayerField, string>>;

/** The fields that can hold several answers; every other field is its first occurrence. */
const MULTI_VALUED: ReadonlySet<LayerField> = new Set(['dns.a', 'dns.aaaa', 'dns.cname', 'dns.resp.ttl']);

/**
 * tshark's reading of every frame's protocol layers. Reassembly is off so that a lone first fragment is dissected as
 * tshark would without its peers.
 */
export async function tsharkLayers(path: string): Promise<TsharkLayers[]> {
  const preferences = ['ip.defragment:FALSE', 'ipv6.defragment:FALSE', 'tcp.desegment_tcp_streams:FALSE'];
  const rows = await tsharkFields(path, LAYER_FIELDS, { allOccurrences: true, preferences });
  return rows.map((values) => {
    const frame: TsharkLayers = {};
    LAYER_FIELDS.forEach((field, i) => {
      const value = values[i] ?? '';
      if (value === '') return;
      frame[field] = MULTI_VALUED.has(field) ? value : value.split(',')[0]!;
    });
    return frame;
  });
}

export interface TsharkRecord {
  number: number;
  /** Wireshark's encapsulation number; undefined for records that are not packets (tshark shows pcapng custom blocks as frames). */
  encapType: number | undefined;
  /** frame.time_epoch as tshark prints it: seconds.nanoseconds (9 digits). */
  timeEpoch: string;
  /** Length on the wire. */
  len: number;
  capLen: number;
  /** The frame bytes as captured (link header included). */
  raw: Uint8Array;
  /** Offset of the outer IPv4/IPv6 header in raw, when tshark found one. */
  ipOffset: number | undefined;
  /** 4 or 6 for the outer IP header, undefined without one. */
  ipVersion: 4 | 6 | undefined;
  /** pcapng direction flag (1 inbound, 2 outbound), when the file has one. */
  direction: number | undefined;
  /** pcapng interface id and if_name, when the file has them. */
  interfaceId: number | undefined;
  interfaceName: string | undefined;
  /** Linux cooked header's packet type and (SLL2) interface index. */
  sllPacketType: number | undefined;
  sllIfindex: number | undefined;
}

type Raw = [string, number, number, number, number];
type Layers = Record<string, unknown> & { frame_raw: Raw; frame: Record<string, string> };

function numberField(layer: unknown, name: string): number | undefined {
  if (layer === undefined || layer === null || typeof layer !== 'object') return undefined;
  const value = (layer as Record<string, unknown>)[name];
  return typeof value === 'string' ? Number(value) : undefined;
}

/** Every record of `path` as tshark reads it (pcapng blocks that are not packets too: their encapType is undefined). */
export async function tsharkRecords(path: string): Promise<TsharkRecord[]> {
  const { stdout } = await run(
    'tshark',
    ['-r', path, '-T', 'json', '-x', '--no-duplicate-keys', '-j', 'frame ip ipv6 sll'],
    {
      maxBuffer: 1024 * 1024 * 1024,
    },
  );
  const packets = JSON.parse(stdout) as { _source: { layers: Layers } }[];
  const interfaces = await tsharkFields(path, ['frame.interface_id', 'frame.interface_name']);
  return packets.map(({ _source: { layers } }, index) => {
    const [interfaceId, interfaceName] = interfaces[index] ?? [];
    const frame = layers.frame;
    const ipRaw = (layers['ip_raw'] ?? layers['ipv6_raw']) as Raw | Raw[] | undefined;
    const firstIp = Array.isArray(ipRaw?.[0]) ? (ipRaw as Raw[])[0] : (ipRaw as Raw | undefined);
    const ipVersion = layers['ip_raw'] !== undefined ? 4 : layers['ipv6_raw'] !== undefined ? 6 : undefined;
    const flags = frame['frame.packet_flags'];
    return {
      number: Number(frame['frame.number']),
      encapType: frame['frame.encap_type'] === undefined ? undefined : Number(frame['frame.encap_type']),
      timeEpoch: frame['frame.time_epoch']!,
      len: Number(frame['frame.len']),
      capLen: Number(frame['frame.cap_len']),
      raw: Uint8Array.from(Buffer.from(layers.frame_raw[0], 'hex')),
      ipOffset: firstIp?.[1],
      ipVersion,
      direction: flags === undefined ? undefined : Number(flags) & 3,
      interfaceId: interfaceId === undefined || interfaceId === '' ? undefined : Number(interfaceId),
      // tshark says "unknown" for interfaces without a name (every classic pcap).
      interfaceName:
        interfaceName === undefined || interfaceName === '' || interfaceName === 'unknown' ? undefined : interfaceName,
      sllPacketType: numberField(layers['sll'], 'sll.pkttype'),
      sllIfindex: numberField(layers['sll'], 'sll.ifindex'),
    };
  });
}

// tshark's reading of every frame of a capture file (time, lengths, bytes, where the IP layer starts, capture
// direction, cooked-header fields), as the independent judge of our readers.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TsharkFrame {
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

/** Every frame of `path` as tshark reads it. */
export async function tsharkFrames(path: string): Promise<TsharkFrame[]> {
  const { stdout } = await run(
    'tshark',
    ['-r', path, '-T', 'json', '-x', '--no-duplicate-keys', '-j', 'frame ip ipv6 sll'],
    {
      maxBuffer: 1024 * 1024 * 1024,
    },
  );
  const packets = JSON.parse(stdout) as { _source: { layers: Layers } }[];
  const names = await run(
    'tshark',
    ['-r', path, '-T', 'fields', '-E', 'separator=\t', '-e', 'frame.interface_id', '-e', 'frame.interface_name'],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const interfaces = names.stdout.split('\n').map((l) => l.split('\t'));
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

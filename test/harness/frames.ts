// Test-only frame builders: Ethernet (with VLAN tags), ARP, IPv4, IPv6 (with extension headers), TCP, UDP, ICMP,
// SCTP, VRRP, IGMP and DNS messages, byte by byte, so tests can craft exactly the packet they need.

export function hex(text: string): Uint8Array {
  const clean = text.replace(/[^0-9a-fA-F]/g, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function u16(v: number): Uint8Array {
  return Uint8Array.of((v >> 8) & 0xff, v & 0xff);
}

function u32(v: number): Uint8Array {
  return Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

export function mac(text: string): Uint8Array {
  return hex(text);
}

export function ipv4Address(text: string): Uint8Array {
  return Uint8Array.from(text.split('.').map(Number));
}

/** Parses any IPv6 text form (with "::" and an embedded IPv4 tail) into 16 bytes. */
export function ipv6Address(text: string): Uint8Array {
  let t = text;
  const lastColon = t.lastIndexOf(':');
  const tail = t.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = ipv4Address(tail);
    t = t.slice(0, lastColon + 1) + ((v4[0]! << 8) | v4[1]!).toString(16) + ':' + ((v4[2]! << 8) | v4[3]!).toString(16);
  }
  const parseGroups = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  let groups: number[];
  if (t.includes('::')) {
    const [head, rest] = t.split('::') as [string, string];
    const h = parseGroups(head);
    const r = parseGroups(rest);
    groups = [...h, ...new Array<number>(8 - h.length - r.length).fill(0), ...r];
  } else {
    groups = parseGroups(t);
  }
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

export interface EthernetInit {
  dst?: string;
  src?: string;
  /** Tags outermost first: [tpid, vid]. */
  vlans?: Array<[number, number]>;
  type: number;
}

export function ethernet(init: EthernetInit, payload: Uint8Array): Uint8Array {
  const tags = (init.vlans ?? []).map(([tpid, vid]) => concat(u16(tpid), u16(vid)));
  return concat(mac(init.dst ?? '020000000002'), mac(init.src ?? '020000000001'), ...tags, u16(init.type), payload);
}

function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface IPv4Init {
  src: string;
  dst: string;
  protocol: number;
  ttl?: number;
  id?: number;
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** In bytes (a multiple of 8). */
  fragmentOffset?: number;
  options?: Uint8Array;
  /** Overrides the computed total length. */
  totalLength?: number;
  /** Overrides the header length nibble (in 32-bit words). */
  ihl?: number;
}

export function ipv4(init: IPv4Init, payload: Uint8Array): Uint8Array {
  const options = init.options ?? new Uint8Array();
  const headerLength = 20 + options.length;
  const header = concat(
    Uint8Array.of(0x40 | (init.ihl ?? headerLength / 4), 0),
    u16(init.totalLength ?? headerLength + payload.length),
    u16(init.id ?? 1),
    u16((init.dontFragment ? 0x4000 : 0) | (init.moreFragments ? 0x2000 : 0) | ((init.fragmentOffset ?? 0) / 8)),
    Uint8Array.of(init.ttl ?? 64, init.protocol),
    u16(0),
    ipv4Address(init.src),
    ipv4Address(init.dst),
    options,
  );
  const sum = checksum(header);
  header[10] = sum >> 8;
  header[11] = sum & 0xff;
  return concat(header, payload);
}

export interface IPv6Init {
  src: string;
  dst: string;
  next: number;
  hopLimit?: number;
  payloadLength?: number;
}

export function ipv6(init: IPv6Init, payload: Uint8Array): Uint8Array {
  return concat(
    hex('60000000'),
    u16(init.payloadLength ?? payload.length),
    Uint8Array.of(init.next, init.hopLimit ?? 64),
    ipv6Address(init.src),
    ipv6Address(init.dst),
    payload,
  );
}

/** A generic IPv6 extension header (hop-by-hop, routing, destination options): padded to a multiple of 8 bytes. */
export function ipv6Extension(next: number, body: Uint8Array = new Uint8Array(6)): Uint8Array {
  const length = Math.ceil((body.length + 2) / 8) * 8;
  const out = new Uint8Array(length);
  out[0] = next;
  out[1] = length / 8 - 1;
  out.set(body, 2);
  return out;
}

export function ipv6Fragment(next: number, offset: number, more: boolean, id = 0x12345678): Uint8Array {
  return concat(Uint8Array.of(next, 0), u16(offset | (more ? 1 : 0)), u32(id));
}

/** An authentication header with `icvWords` 32-bit words of ICV (length field counts 32-bit words minus 2). */
export function authenticationHeader(next: number, icvWords = 3): Uint8Array {
  const out = new Uint8Array(12 + icvWords * 4);
  out[0] = next;
  out[1] = (out.length / 4 - 2) & 0xff;
  out.set(u32(0x100), 4); // SPI
  out.set(u32(1), 8); // sequence
  return out;
}

export interface TcpInit {
  sport: number;
  dport: number;
  /** TcpFlag bits, NS included (bit 8). */
  flags: number;
  seq?: number;
  ack?: number;
  options?: Uint8Array;
  /** Overrides the data offset nibble (32-bit words). */
  dataOffset?: number;
}

export function tcp(init: TcpInit, payload: Uint8Array = new Uint8Array()): Uint8Array {
  const options = init.options ?? new Uint8Array();
  const offset = init.dataOffset ?? (20 + options.length) / 4;
  return concat(
    u16(init.sport),
    u16(init.dport),
    u32(init.seq ?? 1),
    u32(init.ack ?? 0),
    Uint8Array.of((offset << 4) | ((init.flags >> 8) & 1), init.flags & 0xff),
    u16(65535),
    u16(0),
    u16(0),
    options,
    payload,
  );
}

export function udp(sport: number, dport: number, payload: Uint8Array = new Uint8Array(), length?: number): Uint8Array {
  return concat(u16(sport), u16(dport), u16(length ?? 8 + payload.length), u16(0), payload);
}

/** ICMPv4 or ICMPv6 header: type, code, checksum 0, then 4 bytes (id and sequence for echo), then data. */
export function icmp(type: number, code: number, id = 0, seq = 0, data: Uint8Array = new Uint8Array()): Uint8Array {
  return concat(Uint8Array.of(type, code), u16(0), u16(id), u16(seq), data);
}

export function sctp(sport: number, dport: number, chunks: Uint8Array = new Uint8Array()): Uint8Array {
  return concat(u16(sport), u16(dport), u32(0xdeadbeef), u32(0), chunks);
}

export function sctpChunk(type: number, body: Uint8Array = new Uint8Array()): Uint8Array {
  const padded = new Uint8Array(Math.ceil(body.length / 4) * 4);
  padded.set(body);
  return concat(Uint8Array.of(type, 0), u16(4 + body.length), padded);
}

export function arp(op: number, senderMac: string, senderIP: string, targetMac: string, targetIP: string): Uint8Array {
  return concat(
    hex('0001 0800 06 04'),
    u16(op),
    mac(senderMac),
    ipv4Address(senderIP),
    mac(targetMac),
    ipv4Address(targetIP),
  );
}

export function vrrp(routerId: number, priority: number, addresses: string[]): Uint8Array {
  return concat(
    Uint8Array.of(0x21, routerId, priority, addresses.length, 0, 1),
    u16(0),
    ...addresses.map(ipv4Address),
    new Uint8Array(8),
  );
}

export function igmp(type: number, group: string): Uint8Array {
  return concat(Uint8Array.of(type, 100), u16(0), ipv4Address(group));
}

// --- DNS ---

export interface DnsRecordInit {
  name: string;
  type: number;
  ttl: number;
  /** A: dotted IPv4; AAAA: IPv6 text; CNAME: a name; anything else: raw bytes as hex. */
  data: string;
}

export interface DnsInit {
  id?: number;
  response?: boolean;
  rcode?: number;
  question: string;
  qtype?: number;
  answers?: DnsRecordInit[];
  /** Write names after their first occurrence as compression pointers. */
  compress?: boolean;
  /** Overrides the answer count in the header. */
  answerCount?: number;
}

export function dnsName(name: string): Uint8Array {
  const labels = name === '' ? [] : name.split('.');
  return concat(...labels.map((l) => concat(Uint8Array.of(l.length), new TextEncoder().encode(l))), Uint8Array.of(0));
}

export function dnsMessage(init: DnsInit): Uint8Array {
  const parts: Uint8Array[] = [];
  let length = 12;
  const seen = new Map<string, number>();
  const name = (n: string): Uint8Array => {
    const key = n.toLowerCase();
    if (init.compress && seen.has(key)) return u16(0xc000 | seen.get(key)!);
    if (init.compress) seen.set(key, length);
    return dnsName(n);
  };
  const push = (b: Uint8Array) => {
    parts.push(b);
    length += b.length;
  };
  push(name(init.question));
  push(concat(u16(init.qtype ?? 1), u16(1)));
  for (const a of init.answers ?? []) {
    push(name(a.name));
    push(concat(u16(a.type), u16(1), u32(a.ttl)));
    let rdata: Uint8Array;
    if (a.type === 1) rdata = ipv4Address(a.data);
    else if (a.type === 28) rdata = ipv6Address(a.data);
    else if (a.type === 5) {
      // The rdata length must be known before the name is written: measure with the current offset + 2.
      length += 2;
      rdata = name(a.data);
      length -= 2;
    } else rdata = hex(a.data);
    push(concat(u16(rdata.length), rdata));
  }
  const flags = (init.response === false ? 0 : 0x8180) | (init.rcode ?? 0);
  const header = concat(
    u16(init.id ?? 0x1234),
    u16(flags),
    u16(1),
    u16(init.answerCount ?? (init.answers ?? []).length),
    u16(0),
    u16(0),
  );
  return concat(header, ...parts);
}

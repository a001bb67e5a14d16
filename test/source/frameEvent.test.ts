import { describe, expect, it } from 'vitest';
import {
  encodeTraceNotify,
  TraceNotifyFlag,
  TraceObservationPoint,
  TraceReason,
} from '../../src/monitor/datapath/traceNotify.js';
import { FrameEventBuilder } from '../../src/source/frameEvent.js';
import { Direction, LinkType } from '../../src/source/linkTypes.js';

const bytes = (...parts: (number[] | Uint8Array)[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
const u16 = (v: number) => [v >> 8, v & 0xff];
const u32 = (v: number) => [v >>> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];
const u32le = (v: number) => u32(v).reverse();

// A minimal UDP datagram from 10.0.0.1:1000 to 10.0.0.2:53 and its IPv6 sibling (checksums are not checked here).
const udp = [...u16(1000), ...u16(53), ...u16(10), 0, 0, 0x68, 0x69];
const ipv4 = bytes([0x45, 0, ...u16(30), 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], udp);
const ipv6 = bytes([0x60, 0, 0, 0, ...u16(10), 17, 64], new Uint8Array(15), [1], new Uint8Array(15), [2], udp);
const macA = [0x02, 0, 0, 0, 0, 0x0a];
const macB = [0x02, 0, 0, 0, 0, 0x0b];
const zeroMac = [0, 0, 0, 0, 0, 0];
const ethernet = (src: number[], type: number, payload: Uint8Array) => bytes(macB, src, u16(type), payload);

const TO = TraceObservationPoint.TO_NETWORK;
const FROM = TraceObservationPoint.FROM_NETWORK;

interface Case {
  name: string;
  linkType: number;
  frame: Uint8Array;
  origLen?: number;
  direction?: number;
  ifindex?: number;
  /** The Ethernet frame that must follow the header, and the header fields. */
  expect: { frame: Uint8Array; obsPoint: number; origLen?: number; ifindex?: number; ipv6?: boolean };
}

const cases: Case[] = [
  {
    name: 'Ethernet IPv4 as is, direction unknown = from network',
    linkType: LinkType.ETHERNET,
    frame: ethernet(macA, 0x0800, ipv4),
    expect: { frame: ethernet(macA, 0x0800, ipv4), obsPoint: FROM },
  },
  {
    name: 'Ethernet leaving this host on ifindex 7 (live capture)',
    linkType: LinkType.ETHERNET,
    frame: ethernet(macA, 0x86dd, ipv6),
    direction: Direction.OUTBOUND,
    ifindex: 7,
    expect: { frame: ethernet(macA, 0x86dd, ipv6), obsPoint: TO, ifindex: 7, ipv6: true },
  },
  {
    name: 'Ethernet with a VLAN tag around IPv6 is flagged IPv6',
    linkType: LinkType.ETHERNET,
    frame: bytes(macB, macA, u16(0x8100), u16(42), u16(0x86dd), ipv6),
    direction: Direction.INBOUND,
    expect: { frame: bytes(macB, macA, u16(0x8100), u16(42), u16(0x86dd), ipv6), obsPoint: FROM, ipv6: true },
  },
  {
    name: 'SLL outgoing: the cooked address becomes the source MAC, packet type 4 = to network',
    linkType: LinkType.LINUX_SLL,
    frame: bytes(u16(4), u16(1), u16(6), macA, [0, 0], u16(0x0800), ipv4),
    origLen: 16 + 100,
    expect: { frame: bytes(zeroMac, macA, u16(0x0800), ipv4), obsPoint: TO, origLen: 14 + 100 },
  },
  {
    name: 'SLL incoming without a link-layer address',
    linkType: LinkType.LINUX_SLL,
    frame: bytes(u16(0), u16(772), u16(0), new Uint8Array(8), u16(0x86dd), ipv6),
    direction: Direction.OUTBOUND, // the cooked header wins over what the container says
    expect: { frame: bytes(zeroMac, zeroMac, u16(0x86dd), ipv6), obsPoint: FROM, ipv6: true },
  },
  {
    name: 'SLL of an 802.2 LLC frame: the type field carries the length',
    linkType: LinkType.LINUX_SLL,
    frame: bytes(u16(0), u16(1), u16(6), macA, [0, 0], u16(0x0004), [0x42, 0x42, 3, 1, 2, 3]),
    expect: { frame: bytes(zeroMac, macA, u16(6), [0x42, 0x42, 3, 1, 2, 3]), obsPoint: FROM },
  },
  {
    name: 'SLL2 carries the interface index and packet type',
    linkType: LinkType.LINUX_SLL2,
    frame: bytes(u16(0x86dd), [0, 0], u32(0x01020304), u16(1), [4, 6], macA, [0, 0], ipv6),
    ifindex: 9,
    expect: { frame: bytes(zeroMac, macA, u16(0x86dd), ipv6), obsPoint: TO, ifindex: 0x01020304, ipv6: true },
  },
  {
    name: 'RAW IPv4',
    linkType: LinkType.RAW,
    frame: ipv4,
    expect: { frame: bytes(zeroMac, zeroMac, u16(0x0800), ipv4), obsPoint: FROM },
  },
  {
    name: 'RAW IPv6',
    linkType: LinkType.RAW,
    frame: ipv6,
    expect: { frame: bytes(zeroMac, zeroMac, u16(0x86dd), ipv6), obsPoint: FROM, ipv6: true },
  },
  {
    name: 'RAW as DLT 12',
    linkType: LinkType.RAW_BSD,
    frame: ipv4,
    expect: { frame: bytes(zeroMac, zeroMac, u16(0x0800), ipv4), obsPoint: FROM },
  },
  {
    name: 'IPV4',
    linkType: LinkType.IPV4,
    frame: ipv4,
    expect: { frame: bytes(zeroMac, zeroMac, u16(0x0800), ipv4), obsPoint: FROM },
  },
  {
    name: 'IPV6',
    linkType: LinkType.IPV6,
    frame: ipv6,
    expect: { frame: bytes(zeroMac, zeroMac, u16(0x86dd), ipv6), obsPoint: FROM, ipv6: true },
  },
  {
    name: 'NULL (host-order family) IPv4',
    linkType: LinkType.NULL,
    frame: bytes(u32le(2), ipv4),
    expect: { frame: bytes(zeroMac, zeroMac, u16(0x0800), ipv4), obsPoint: FROM },
  },
  {
    name: 'LOOP (network-order family 30) IPv6',
    linkType: LinkType.LOOP,
    frame: bytes(u32(30), ipv6),
    expect: { frame: bytes(zeroMac, zeroMac, u16(0x86dd), ipv6), obsPoint: FROM, ipv6: true },
  },
];

describe('FrameEventBuilder', () => {
  it.each(cases)('$name', (c) => {
    const builder = new FrameEventBuilder('node-a');
    const origLen = c.origLen ?? c.frame.length;
    // The frame sits inside a larger buffer, as it does in a read chunk.
    const chunk = bytes([9, 9, 9], c.frame, [9, 9]);
    const event = builder.build(
      chunk,
      3,
      c.frame.length,
      origLen,
      c.linkType,
      c.direction ?? Direction.UNKNOWN,
      c.ifindex ?? 0,
      1700000000,
      123456789,
    );
    const wireLen = c.expect.origLen ?? c.expect.frame.length;
    const expected = encodeTraceNotify(
      {
        obsPoint: c.expect.obsPoint,
        origLen: wireLen,
        reason: TraceReason.UNKNOWN,
        ifindex: c.expect.ifindex ?? 0,
        flags: c.expect.ipv6 ? TraceNotifyFlag.IS_IPV6 : 0,
      },
      c.expect.frame,
    );
    expect(event).toEqual({
      timestamp: { seconds: 1700000000, nanos: 123456789 },
      nodeName: 'node-a',
      payload: { kind: 'perf', cpu: 0, data: expected },
    });
    expect(builder).toMatchObject({ events: 1, bytes: c.frame.length, skipped: 0 });
  });

  it.each([
    ['a link type it cannot normalise', LinkType.ETHERNET + 146, ipv4, [147]],
    ['raw IP that is neither v4 nor v6', LinkType.RAW, bytes([0x50], ipv4.subarray(1)), []],
    ['an SLL header cut short', LinkType.LINUX_SLL, new Uint8Array(10), []],
    ['an SLL2 header cut short', LinkType.LINUX_SLL2, new Uint8Array(19), []],
    [
      'SLL of a protocol that is not an ethertype or 802.2/802.3',
      LinkType.LINUX_SLL,
      bytes(u16(0), u16(1), u16(0), new Uint8Array(8), u16(0x000c), [1, 2]),
      [],
    ],
    ['a BSD loopback frame without IP', LinkType.NULL, bytes(u32le(2)), []],
  ])('skips and counts %s', (_what, linkType, frame, unsupported) => {
    const builder = new FrameEventBuilder('n');
    expect(builder.build(frame, 0, frame.length, frame.length, linkType, 0, 0, 1, 0)).toBeUndefined();
    expect(builder).toMatchObject({ events: 0, skipped: 1 });
    expect([...builder.unsupportedLinkTypes]).toEqual(unsupported);
  });

  it('carries frames longer than 64 KiB whole, with capLen saturated as the datapath field allows', () => {
    const frame = ethernet(macA, 0x0800, new Uint8Array(70_000));
    const event = new FrameEventBuilder('n').build(
      frame,
      0,
      frame.length,
      frame.length,
      LinkType.ETHERNET,
      0,
      0,
      1,
      0,
    )!;
    const data = event.payload.kind === 'perf' ? event.payload.data : new Uint8Array();
    expect(data.length).toBe(32 + frame.length);
    expect(Buffer.from(data.subarray(12, 14)).readUInt16LE()).toBe(0xffff);
    expect(Buffer.from(data.subarray(8, 12)).readUInt32LE()).toBe(frame.length);
  });

  it('never reports a wire length shorter than what was captured, and counts sliced frames', () => {
    const builder = new FrameEventBuilder('n');
    const frame = ethernet(macA, 0x0800, ipv4);
    const shortOrig = builder.build(frame, 0, frame.length, 10, LinkType.ETHERNET, 0, 0, 1, 0)!;
    const sliced = builder.build(frame, 0, frame.length, 1500, LinkType.ETHERNET, 0, 0, 1, 0)!;
    const origLen = (e: typeof shortOrig) =>
      e.payload.kind === 'perf' ? Buffer.from(e.payload.data.subarray(8, 12)).readUInt32LE() : -1;
    expect([origLen(shortOrig), origLen(sliced)]).toEqual([frame.length, 1500]);
    expect(builder.sliced).toBe(1);
  });

  it('carves events out of shared slabs without one event overwriting another', () => {
    const builder = new FrameEventBuilder('n', 256);
    const frames = Array.from({ length: 100 }, (_, i) =>
      ethernet(macA, 0x0800, new Uint8Array(20 + (i % 50) * 7).fill(i)),
    );
    const events = frames.map((f) => builder.build(f, 0, f.length, f.length, LinkType.ETHERNET, 0, 0, 1, 0)!);
    events.forEach((e, i) => {
      const data = e.payload.kind === 'perf' ? e.payload.data : new Uint8Array();
      expect(Buffer.from(data.subarray(32))).toEqual(Buffer.from(frames[i]!));
    });
    // Small frames share a slab, larger-than-slab frames get their own.
    const buffers = new Set(events.map((e) => (e.payload.kind === 'perf' ? e.payload.data.buffer : undefined)));
    expect(buffers.size).toBeGreaterThan(1);
    expect(buffers.size).toBeLessThan(100);
  });
});

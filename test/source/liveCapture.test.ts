import { execFile, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTraceNotify, TraceNotifyFlag, TraceObservationPoint } from '../../src/monitor/datapath/traceNotify.js';
import { LostEventSource } from '../../src/monitor/lostEvent.js';
import type { MonitorEvent } from '../../src/monitor/types.js';
import { LiveCaptureSource, type CapModule, type LiveCaptureTuning } from '../../src/source/liveCapture.js';
import { parseSourceSpec, SourceError, type EventSource, type SourceSummary } from '../../src/source/source.js';
import { captureWhile } from '../harness/capture.js';
import { vethNamespace, type VethNamespace } from '../harness/netns.js';

const run = promisify(execFile);

interface Running {
  events: MonitorEvent[];
  registered: [number, string][];
  stop(): Promise<SourceSummary>;
  /** Resolves once `count` events matching `match` arrived, or rejects after `ms`. */
  waitFor(count: number, match: (e: Decoded) => boolean, ms?: number): Promise<Decoded[]>;
}

interface Decoded {
  event: MonitorEvent;
  obsPoint: number;
  ifindex: number;
  flags: number;
  origLen: number;
  frame: Uint8Array;
}

function decode(event: MonitorEvent): Decoded {
  if (event.payload.kind !== 'perf') throw new Error('not a perf event');
  const tn = decodeTraceNotify(event.payload.data);
  return {
    event,
    obsPoint: tn.obsPoint,
    ifindex: tn.ifindex,
    flags: tn.flags,
    origLen: tn.origLen,
    frame: event.payload.data.subarray(tn.payloadOffset),
  };
}

function start(spec: string | EventSource): Running {
  const registered: [number, string][] = [];
  const source =
    typeof spec === 'string'
      ? parseSourceSpec(spec, { nodeName: 'live-node', links: { register: (i, n) => registered.push([i, n]) } })
      : spec;
  const controller = new AbortController();
  const events: MonitorEvent[] = [];
  const done = source.run((e) => events.push(e), controller.signal);
  done.catch(() => undefined);
  return {
    events,
    registered,
    stop: async () => {
      controller.abort();
      return done;
    },
    async waitFor(count, match, ms = 1000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = events.map(decode).filter(match);
        if (found.length >= count) return found;
        if (Date.now() > deadline)
          throw new Error(`only ${found.length} of ${count} matching events within ${ms} ms (${events.length} in all)`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

async function sendUdp(host: string, port: number, payloads: string[]): Promise<void> {
  const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  for (const p of payloads)
    await new Promise<void>((resolve, reject) => sock.send(p, port, host, (e) => (e ? reject(e) : resolve())));
  sock.close();
}

const udpPayload = (frame: Uint8Array) => Buffer.from(frame.subarray(14 + 20 + 8)).toString();
const isUdpTo = (port: number) => (d: Decoded) => d.frame[23] === 17 && ((d.frame[36]! << 8) | d.frame[37]!) === port;
const isIcmpUnreachable = (d: Decoded) => d.frame[23] === 1 && d.frame[34] === 3;
const macText = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');

describe('live capture on loopback', () => {
  it('publishes what we send within a second: frames, capture time, interface', async () => {
    const port = 40000 + (process.pid % 20000);
    const capture = start(`live:lo:udp port ${port}`);
    await new Promise((r) => setTimeout(r, 100));
    const before = Date.now();
    const payloads = ['first datagram', 'second datagram', 'third datagram'];
    await sendUdp('127.0.0.1', port, payloads);
    const seen = await capture.waitFor(3, isUdpTo(port));
    const after = Date.now();
    const summary = await capture.stop();

    expect(seen.map((d) => udpPayload(d.frame))).toEqual(payloads);
    for (const d of seen) {
      expect(d.event.nodeName).toBe('live-node');
      expect(d.frame.subarray(12, 14)).toEqual(Uint8Array.of(0x08, 0x00));
      expect(d.origLen).toBe(d.frame.length);
      // Loopback has no MAC to tell direction by.
      expect(d.obsPoint).toBe(TraceObservationPoint.FROM_NETWORK);
      expect(d.ifindex).toBe(1);
      const ms = d.event.timestamp.seconds * 1000 + d.event.timestamp.nanos / 1e6;
      expect(ms).toBeGreaterThanOrEqual(before - 2);
      expect(ms).toBeLessThanOrEqual(after + 2);
    }
    expect(capture.registered).toContainEqual([1, 'lo']);
    expect(summary).toMatchObject({ aborted: true, skipped: 0 });
    expect(summary.events).toBe(capture.events.length);
  });

  it('captures IPv6 too and flags it', async () => {
    const port = 40001 + (process.pid % 20000);
    const capture = start(`live:lo:ip6 and udp port ${port}`);
    await new Promise((r) => setTimeout(r, 100));
    await sendUdp('::1', port, ['over IPv6']);
    const [d] = await capture.waitFor(1, (x) => x.frame[12] === 0x86 && x.frame[13] === 0xdd);
    await capture.stop();
    expect(d!.flags & TraceNotifyFlag.IS_IPV6).toBe(TraceNotifyFlag.IS_IPV6);
    expect(Buffer.from(d!.frame.subarray(14 + 40 + 8)).toString()).toBe('over IPv6');
  });

  it('stops publishing and releases the capture when aborted', async () => {
    const port = 40002 + (process.pid % 20000);
    const capture = start(`live:lo:udp port ${port}`);
    await new Promise((r) => setTimeout(r, 100));
    await sendUdp('127.0.0.1', port, ['before']);
    await capture.waitFor(1, isUdpTo(port));
    await capture.stop();
    const count = capture.events.length;
    await sendUdp('127.0.0.1', port, ['after']);
    await new Promise((r) => setTimeout(r, 300));
    expect(capture.events.length).toBe(count);
  });

  it("ends the run with the consumer's error when publish throws, instead of crashing in the binding", async () => {
    const port = 40003 + (process.pid % 20000);
    const failure = new Error('consumer broke');
    const source = parseSourceSpec(`live:lo:udp port ${port}`, { nodeName: 'n' });
    const done = source.run(() => {
      throw failure;
    }, new AbortController().signal);
    await new Promise((r) => setTimeout(r, 100));
    await sendUdp('127.0.0.1', port, ['boom']);
    await expect(done).rejects.toBe(failure);
  });
});

describe('live capture with what the kernel knows (the patched cap binding)', () => {
  it("stamps each packet with the kernel's capture time, the one tcpdump records for it", async () => {
    const port = 40006 + (process.pid % 20000);
    const payloads = Array.from({ length: 20 }, (_, i) => `timed datagram ${i}`);
    let seen: Decoded[] = [];
    const file = await captureWhile(
      `udp port ${port}`,
      async () => {
        const capture = start(`live:lo:udp port ${port}`);
        await new Promise((r) => setTimeout(r, 100));
        for (const p of payloads) {
          await sendUdp('127.0.0.1', port, [p]);
          await new Promise((r) => setTimeout(r, 3));
        }
        seen = await capture.waitFor(payloads.length, isUdpTo(port));
        await capture.stop();
      },
      { extraArgs: ['--time-stamp-precision=nano'] },
    );
    const fields = await run('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'data.data']);
    const tcpdumpTime = new Map(
      fields.stdout
        .trim()
        .split('\n')
        .map((line) => line.split('\t'))
        .map(([epoch, hex]) => [Buffer.from(hex!.replace(/:/g, ''), 'hex').toString(), epoch!] as const),
    );
    const gapsNs = seen.map((d) => {
      const theirs = tcpdumpTime.get(udpPayload(d.frame));
      expect(theirs, udpPayload(d.frame)).toBeDefined();
      const [seconds, fraction] = theirs!.split('.');
      const theirNs = BigInt(seconds!) * 1_000_000_000n + BigInt(fraction!.padEnd(9, '0').slice(0, 9));
      const ourNs = BigInt(d.event.timestamp.seconds) * 1_000_000_000n + BigInt(d.event.timestamp.nanos);
      return Number(ourNs > theirNs ? ourNs - theirNs : theirNs - ourNs);
    });
    expect(seen.map((d) => udpPayload(d.frame))).toEqual(payloads);
    // Both read the time the kernel stamped on the packet: they agree to the nanosecond, where stamping on delivery
    // would be off by the time the packet waited in the ring and the event loop.
    expect(Math.max(...gapsNs)).toBeLessThan(1_000_000);
  });

  it('gives the length on the wire of a frame cut to a small snaplen, and counts it sliced', async () => {
    const port = 40007 + (process.pid % 20000);
    const source = new LiveCaptureSource(`lo`, `udp port ${port}`, { nodeName: 'n' }, { snaplen: 100 });
    const capture = start(source);
    await new Promise((r) => setTimeout(r, 100));
    await sendUdp('127.0.0.1', port, ['x'.repeat(1000)]);
    const [d] = await capture.waitFor(1, isUdpTo(port));
    const summary = await capture.stop();
    expect(d!.frame.length).toBe(100);
    expect(d!.origLen).toBe(14 + 20 + 8 + 1000);
    expect(summary.sliced).toBe(1);
  });

  it('captures the largest loopback frame whole by default, as tcpdump does (snaplen 262144)', async () => {
    // The largest UDP datagram over IPv4: a 65,535-byte packet, 65,549 bytes with its Ethernet header (lo's MTU is
    // 65,536, so it goes unfragmented). A 65,535 snaplen cut it, and recordings asking for whole packets with it.
    const port = 40011 + (process.pid % 20000);
    const capture = start(`live:lo:udp port ${port}`);
    await new Promise((r) => setTimeout(r, 100));
    const payload = 'y'.repeat(65_535 - 20 - 8);
    await sendUdp('127.0.0.1', port, [payload]);
    const [d] = await capture.waitFor(1, isUdpTo(port));
    const summary = await capture.stop();
    expect(d!.frame.length).toBe(14 + 65_535);
    expect(d!.origLen).toBe(14 + 65_535);
    expect(udpPayload(d!.frame)).toBe(payload);
    expect(summary.sliced).toBe(0);
  });

  it('delivers a wakeup of packets larger than one batch whole and in order (batched delivery)', async () => {
    // 40 datagrams, every other one 60,000 bytes: 1.2 MB, more than the 1 MiB batch, so cap hands over a full batch
    // in the middle of a wakeup. They are sent by another process while this one's event loop is held, so they wait
    // in the kernel's ring together (80 of its ~128 slots: loopback takes two a packet).
    const port = 40012 + (process.pid % 20000);
    const capture = start(`live:lo:udp port ${port}`);
    await new Promise((r) => setTimeout(r, 100));
    const sizes = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 60_000 + i : 10 + i));
    const sender = spawn(process.execPath, [
      '-e',
      `const s = require('node:dgram').createSocket('udp4');
       const sizes = ${JSON.stringify(sizes)};
       let i = 0;
       const next = () => i === sizes.length ? s.close()
         : s.send(Buffer.alloc(sizes[i], 97 + (i % 26)), ${port}, '127.0.0.1', () => { i++; next(); });
       next();`,
    ]);
    const sent = new Promise((r) => sender.once('exit', r));
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 600); // holds the event loop while they are sent
    await sent;
    const seen = await capture.waitFor(sizes.length, isUdpTo(port), 2000);
    const summary = await capture.stop();
    expect(seen.map((d) => d.frame.length - 14 - 20 - 8)).toEqual(sizes);
    seen.forEach((d, i) => expect(udpPayload(d.frame)).toBe(String.fromCharCode(97 + (i % 26)).repeat(sizes[i]!)));
    expect(summary).toMatchObject({ sliced: 0, dropped: 0 });
  });

  it('delivers packet by packet, with the same frames and times, through a cap without batched delivery', async () => {
    // A cap patched before batched delivery (or whose setBatched is missing) calls once a packet.
    const real = createRequire(import.meta.url)('cap') as CapModule;
    class Unbatched extends real.Cap {
      override setBatched = undefined;
    }
    const port = 40013 + (process.pid % 20000);
    const source = new LiveCaptureSource(
      `lo`,
      `udp port ${port}`,
      { nodeName: 'n' },
      {
        loadCap: () => ({ Cap: Unbatched, deviceList: () => real.deviceList() }),
      },
    );
    const capture = start(source);
    await new Promise((r) => setTimeout(r, 100));
    const before = Date.now();
    const payloads = ['one', 'two', 'x'.repeat(65_535 - 20 - 8)];
    await sendUdp('127.0.0.1', port, payloads);
    const seen = await capture.waitFor(3, isUdpTo(port));
    await capture.stop();
    expect(seen.map((d) => udpPayload(d.frame))).toEqual(payloads);
    for (const d of seen) {
      expect(d.origLen).toBe(d.frame.length);
      expect(d.event.timestamp.seconds * 1000 + d.event.timestamp.nanos / 1e6).toBeGreaterThanOrEqual(before - 2);
    }
  });

  it('reports what the kernel dropped while the process could not read as lost events, and the numbers add up', async () => {
    const port = 40008 + (process.pid % 20000);
    const sent = 3000;
    // A small ring (64 KiB of 100-byte slots in immediate mode: a few hundred packets, loopback's two copies each)
    // overruns while one burst is sent without the event loop turning.
    const source = new LiveCaptureSource(
      'lo',
      `udp port ${port}`,
      { nodeName: 'n' },
      { bufferSize: 64 * 1024, snaplen: 100, timeoutMs: 0 },
    );
    const capture = start(source);
    const receiver = createSocket('udp4');
    await new Promise<void>((r) => receiver.bind(port, '127.0.0.1', r));
    await new Promise((r) => setTimeout(r, 100));
    const sender = createSocket('udp4');
    let accepted = 0;
    await new Promise<void>((resolve, reject) => {
      let pending = sent;
      for (let i = 0; i < sent; i++) {
        sender.send(`flood ${i}`, port, '127.0.0.1', (err) => {
          if (err) return reject(err);
          accepted++;
          if (--pending === 0) resolve();
        });
      }
    });
    sender.close();
    await new Promise((r) => setTimeout(r, 300));
    const summary = await capture.stop();
    receiver.close();

    const captured = capture.events
      .filter((e) => e.payload.kind === 'perf')
      .map(decode)
      .filter(isUdpTo(port)).length;
    const lostEvents = capture.events.flatMap((e) => (e.payload.kind === 'lost' ? [e.payload] : []));
    const lost = lostEvents.reduce((n, e) => n + e.numLost, 0);
    expect(accepted).toBe(sent);
    expect(lostEvents.every((e) => e.source === LostEventSource.PERF_EVENT_RING_BUFFER)).toBe(true);
    expect(lost).toBeGreaterThan(0);
    expect(summary.dropped).toBe(lost);
    expect(summary.events).toBe(captured);
    // Each loopback packet is two drops; a stall that begins between a packet's copies is one more, rounded up.
    console.log(
      `kernel drops on loopback: ${sent} sent, ${captured} captured, ${lost} lost in ${lostEvents.length} LostEvents`,
    );
    expect(Math.abs(captured + lost - sent)).toBeLessThanOrEqual(2);
  });
});

/** Sends `count` datagrams to 127.0.0.1:port all at once (the event loop does not turn between them). */
async function sendBurst(port: number, count: number): Promise<void> {
  const sender = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    let pending = count;
    for (let i = 0; i < count; i++)
      sender.send(`burst ${i}`, port, '127.0.0.1', (err) => (err ? reject(err) : --pending === 0 && resolve()));
  });
  sender.close();
}

describe('live capture with a read timeout (--capture-timeout) instead of immediate mode', () => {
  it('keeps a burst whole that overruns the same ring in immediate mode', async () => {
    const port = 40009 + (process.pid % 20000);
    const sent = 3000;
    const burst = async (tuning: LiveCaptureTuning) => {
      const capture = start(new LiveCaptureSource('lo', `udp port ${port}`, { nodeName: 'n' }, tuning));
      await new Promise((r) => setTimeout(r, 100));
      // One burst sent without the event loop turning: 3000 packets, 6000 ring places on loopback.
      await sendBurst(port, sent);
      await new Promise((r) => setTimeout(r, 500));
      const summary = await capture.stop();
      const captured = capture.events
        .filter((e) => e.payload.kind === 'perf')
        .map(decode)
        .filter(isUdpTo(port)).length;
      return { captured, dropped: summary.dropped };
    };
    // The default 8 MiB ring, in 64 KiB slots in immediate mode: about 120 places.
    const immediate = await burst({ timeoutMs: 0 });
    const blocks = await burst({ timeoutMs: 5 });
    console.log(
      `a burst of ${sent} on loopback: immediate mode kept ${immediate.captured}, a 5 ms timeout ${blocks.captured}`,
    );
    expect(immediate.dropped).toBeGreaterThan(0);
    expect(blocks).toEqual({ captured: sent, dropped: 0 });
  });
});

describe('live capture under a flood its consumer cannot keep up with', () => {
  it('hands over at most 256 packets a turn of the event loop, so timers, sockets and followers keep their turns', async () => {
    const port = 40011 + (process.pid % 20000);
    const sent = 3000;
    // Every turn of the event loop counts one; each packet is stamped with the turn it arrived in.
    let turn = 0;
    let ticking = true;
    const tick = () => {
      turn++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const perTurn = new Map<number, number>();
    const controller = new AbortController();
    const source = new LiveCaptureSource('lo', `udp port ${port}`, { nodeName: 'n' }, { timeoutMs: 5 });
    // A consumer far slower than the burst (200 µs a packet): the whole burst waits in libpcap's ring at once.
    const done = source.run((event) => {
      if (event.payload.kind !== 'perf') return;
      perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
      const until = process.hrtime.bigint() + 200_000n;
      while (process.hrtime.bigint() < until);
    }, controller.signal);
    await new Promise((r) => setTimeout(r, 100));
    await sendBurst(port, sent);
    for (let i = 0; i < 300 && [...perTurn.values()].reduce((a, b) => a + b, 0) < sent; i++)
      await new Promise((r) => setTimeout(r, 20));
    controller.abort();
    await done;
    ticking = false;
    const counts = [...perTurn.values()];
    // cap's own loop took all 3,000 in one turn: 0.6 s in which no timer fired and no socket was read.
    expect(counts.reduce((a, b) => a + b, 0)).toBe(sent);
    expect(Math.max(...counts)).toBeLessThanOrEqual(256);
  });
});

describe('live capture on interfaces that carry traffic both ways', () => {
  let veth: VethNamespace;
  beforeAll(async () => {
    veth = await vethNamespace('live');
    // Let the pair settle (IPv6 DAD and router solicitations) before we count frames.
    await new Promise((r) => setTimeout(r, 200));
  }, 30_000);
  afterAll(async () => veth?.close());

  it("an Ethernet interface: our source MAC means leaving (to network), the peer's means arriving", async () => {
    const port = 40004 + (process.pid % 20000);
    const capture = start(`live:${veth.iface}:udp port ${port} or icmp`);
    await new Promise((r) => setTimeout(r, 100));
    await sendUdp(veth.peerAddress, port, ['to the namespace 1', 'to the namespace 2']);
    const leaving = await capture.waitFor(2, isUdpTo(port));
    const answers = await capture.waitFor(2, isIcmpUnreachable);
    await capture.stop();
    for (const d of leaving) {
      expect(d.obsPoint).toBe(TraceObservationPoint.TO_NETWORK);
      expect(macText(d.frame.subarray(6, 12))).toBe(veth.mac);
      expect(d.ifindex).toBe(veth.ifindex);
    }
    expect(leaving.map((d) => udpPayload(d.frame))).toEqual(['to the namespace 1', 'to the namespace 2']);
    for (const d of answers) {
      expect(d.obsPoint).toBe(TraceObservationPoint.FROM_NETWORK);
      expect(macText(d.frame.subarray(6, 12))).toBe(veth.peerMac);
    }
    expect(capture.registered).toContainEqual([veth.ifindex, veth.iface]);
  });

  it('"any": cooked frames normalised to Ethernet, direction from the packet type', async () => {
    const port = 40005 + (process.pid % 20000);
    const capture = start(`live:any:udp port ${port} or icmp`);
    await new Promise((r) => setTimeout(r, 100));
    await sendUdp(veth.peerAddress, port, ['via any 1', 'via any 2']);
    await sendUdp('127.0.0.1', port, ['loopback via any']);
    const udp = await capture.waitFor(3, isUdpTo(port));
    const answers = await capture.waitFor(3, isIcmpUnreachable);
    await capture.stop();
    const leaving = udp.filter((d) => udpPayload(d.frame).startsWith('via any'));
    expect(leaving.map((d) => [udpPayload(d.frame), d.obsPoint])).toEqual([
      ['via any 1', TraceObservationPoint.TO_NETWORK],
      ['via any 2', TraceObservationPoint.TO_NETWORK],
    ]);
    // The cooked header's address is the sender's MAC: ours for frames leaving.
    for (const d of leaving) expect(macText(d.frame.subarray(6, 12))).toBe(veth.mac);
    const fromPeer = answers.filter((d) => macText(d.frame.subarray(6, 12)) === veth.peerMac);
    expect(fromPeer.length).toBe(2);
    for (const d of fromPeer) expect(d.obsPoint).toBe(TraceObservationPoint.FROM_NETWORK);
    // Loopback frames arrive once on "any" (libpcap drops the outgoing copy).
    expect(udp.filter((d) => udpPayload(d.frame) === 'loopback via any').map((d) => d.obsPoint)).toEqual([
      TraceObservationPoint.FROM_NETWORK,
    ]);
    expect(capture.registered).toEqual([]);
  });
});

describe('live capture over the life of a process', () => {
  it('survives many captures opened, closed and garbage-collected (cap handles must never be collected)', async () => {
    // Every round opens captures (check) and runs one, then churns the heap so V8 collects whatever it may.
    const sourceModule = join(import.meta.dirname, '..', '..', 'src', 'source', 'source.ts');
    const script = `
      import { parseSourceSpec } from ${JSON.stringify(sourceModule)};
      const spec = 'live:lo:udp port 9';
      for (let round = 0; round < 8; round++) {
        for (let i = 0; i < 10; i++) await parseSourceSpec(spec, { nodeName: 'n' }).check();
        await parseSourceSpec('live:lo:udp port', { nodeName: 'n' }).check().catch(() => undefined);
        const stop = new AbortController();
        const run = parseSourceSpec(spec, { nodeName: 'n' }).run(() => {}, stop.signal);
        await new Promise((r) => setTimeout(r, 5));
        stop.abort();
        await run;
        let junk = [];
        for (let k = 0; k < 300000; k++) { junk.push({ k, s: 'x' + k }); if (junk.length > 1000) junk = []; }
        globalThis.gc();
        await new Promise((r) => setImmediate(r));
      }
      console.log('survived');`;
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: join(import.meta.dirname, '..', '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) =>
      child.once('exit', (c, s) => r([c, s])),
    );
    expect({ code, signal, output: output.trim() }).toEqual({ code: 0, signal: null, output: 'survived' });
  }, 60_000);
});

describe('live capture errors', () => {
  const runError = async (source: EventSource): Promise<SourceError> => {
    const err = await source
      .run(() => undefined, new AbortController().signal)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(SourceError);
    expect((err as Error).message).not.toContain('\n');
    return err as SourceError;
  };

  it('an unknown interface lists the ones there are', async () => {
    const err = await runError(parseSourceSpec('live:nosuchif0', { nodeName: 'n' }));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toMatch(/no interface "nosuchif0"; available: .*\blo\b/);
    expect(err.message).toContain('any');
  });

  it("a bad BPF filter says so, with libpcap's words", async () => {
    const err = await runError(parseSourceSpec('live:lo:tcp port', { nodeName: 'n' }));
    expect(err.code).toBe('BAD_SPEC');
    expect(err.message).toBe('live:lo: bad BPF filter "tcp port": can\'t parse filter expression: syntax error');
  });

  it('check() finds the same problems before running, and passes a good capture', async () => {
    await expect(parseSourceSpec('live:lo:udp port 53', { nodeName: 'n' }).check()).resolves.toBeUndefined();
    await expect(parseSourceSpec('live:lo:udp port', { nodeName: 'n' }).check()).rejects.toMatchObject({
      code: 'BAD_SPEC',
    });
    await expect(parseSourceSpec('live:nosuchif0', { nodeName: 'n' }).check()).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('without libpcap, says what to install, and only when live capture is asked for', async () => {
    const source = new LiveCaptureSource(
      'lo',
      '',
      { nodeName: 'n' },
      {
        loadCap: () => {
          throw new Error(
            'libpcap.so.0.8: cannot open shared object file: No such file or directory\n    at Module._extensions..node',
          );
        },
      },
    );
    const err = await runError(source);
    expect(err.code).toBe('NO_LIBPCAP');
    expect(err.message).toContain('libpcap.so.0.8: cannot open shared object file');
    expect(err.message).toContain('apt-get install libpcap-dev), then reinstall hubble-ts');
    await expect(source.check()).rejects.toMatchObject({ code: 'NO_LIBPCAP' });
  });

  it('without the privilege to capture, names what is missing', async () => {
    const sourceModule = join(import.meta.dirname, '..', '..', 'src', 'source', 'source.ts');
    const script = `
      import { parseSourceSpec } from ${JSON.stringify(sourceModule)};
      parseSourceSpec('live:lo', { nodeName: 'n' }).run(() => {}, new AbortController().signal)
        .then(() => console.log(JSON.stringify({ ok: true })), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })));`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      uid: 65534,
      gid: 65534,
      cwd: join(import.meta.dirname, '..', '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HOME: '/tmp' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise((r) => child.once('exit', r));
    const line = stdout.split('\n').find((l) => l.startsWith('{'));
    expect(line, stderr).toBeDefined();
    const result = JSON.parse(line!) as { code: string; message: string };
    expect(result.code).toBe('PERMISSION');
    expect(result.message).toMatch(
      /^live:lo: not allowed to capture \(.*\); run as root or grant CAP_NET_RAW and CAP_NET_ADMIN, e\.g\. setcap cap_net_raw,cap_net_admin=eip \$\(which node\)$/,
    );
  });
});

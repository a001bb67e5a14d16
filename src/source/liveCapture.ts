// Live capture with libpcap through the `cap` binding, loaded only when a live source runs, so machines without
// libpcap can still replay files.
//
// What cap 0.2 with our patch (patches/cap+0.2.1.patch, applied and rebuilt by scripts/patch-cap.mjs on install) gives
// us, and what follows from it:
// - The kernel's capture timestamp, in nanoseconds (pcap_set_tstamp_precision), and the frame's original length on the
//   wire, from libpcap's packet header: a flow's time is when the kernel captured the packet, and a frame longer than
//   the snaplen (262144 unless tuned) is counted as sliced. An unpatched cap (a patch that failed to apply) passes
//   neither: then each event is stamped when cap delivers it, from the monotonic clock anchored once to the wall clock
//   (millisecond precision) at the start, and origLen is the captured length.
// - pcap_stats: every second and at stop, what the kernel dropped for want of room in the capture ring (ps_drop) and
//   what the interface dropped (ps_ifdrop, interface-wide whatever the filter; 0 on "any") since the last look are
//   published as one LostEvent with source PERF_EVENT_RING_BUFFER, the ring between datapath and reader that Hubble
//   names for the same loss, so streams carry it and hubble_lost_events_total counts it; the run's summary gives the
//   total. On loopback every packet takes two ring places (leaving, arriving; libpcap discards the leaving copy after
//   the kernel counted it), so half the drops, rounded up, are packets lost; on "any" loopback's copies are counted as
//   they come, which overstates loopback losses there. A filter with "inbound" would keep leaving copies out of the
//   ring, but libpcap 1.10 in immediate mode then loses the first packet after opening.
// - A read timeout of 1 ms by default (--capture-timeout): the kernel packs packets into blocks handed over when full
//   or within about 1 ms (its block timer runs from the block's opening, not from its first packet). Immediate mode (--capture-timeout 0) is set when cap finds
//   pcap_set_immediate_mode through "libpcap.so" (shipped by libpcap-dev); without it libpcap may hold packets for up
//   to its 1 s read timeout. See LiveCaptureTuning.timeoutMs for what each costs.
// - Promiscuous mode is always on.
// - Batched delivery (our patch's setBatched): cap copies the packets of a wakeup into one buffer, each behind a
//   16-byte header (captured length, original length, seconds, nanoseconds), and calls into JavaScript once for them
//   all ('packets'), where cap's own calls once per packet, each a trip through node's callback machinery (async
//   context, microtask checkpoint). An unpatched cap delivers packet by packet, as before.
// - cap dispatches at most 256 packets (our patch; cap's own: until libpcap has none left) before it returns to the
//   event loop, which calls again at once while more wait: a sustained flood faster than our consumers can take
//   still leaves timers and sockets their turns (a metrics scrape, the export file's writes, GetFlows streams), and
//   a backlog handed over at once (blocks that filled while the process stalled) reaches the Observer's ring a
//   quarter of a 1023 ring at a time, with followers reading in between: at 1,024 a turn a follower reading all along
//   lost events to a 1023 ring's overrun.
// - libpcap prints "Warning: ... This may not actually work" on stderr for interfaces without an IPv4 address.
// - A cap handle must never be garbage-collected: its destructor runs inside V8's weak callback, calls into node
//   (async-hook destroy) and frees a libuv poll handle libuv still lists, which crashes the process (segfault,
//   "free(): invalid pointer") some time later. Closing does not help, and after a failed open even close()
//   aborts (it stops a poll handle that was never started). So every handle we create stays referenced for the
//   life of the process: a few hundred bytes once closed; a handle whose open failed keeps its pcap socket, but
//   failures are configuration mistakes, not something a server repeats.
// - On "any", libpcap delivers Linux cooked (SLL v1) frames: the packet type gives the direction, but v1 carries no
//   interface index, so those events have ifindex 0. On a named interface the ifindex is the interface's own and
//   the direction comes from the source MAC (ours = leaving); loopback has no MAC to tell, so it is "from network".

import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { networkInterfaces } from 'node:os';
import { LostEventSource, lostMonitorEvent } from '../monitor/lostEvent.js';
import { FrameEventBuilder, publishTargetOf } from './frameEvent.js';
import { Direction, isSupportedLinkType, LinkType, linkTypeName } from './linkTypes.js';
import type { EventSource, Publish, PublishTarget, SourceOptions, SourceSummary } from './source.js';
import { SourceError } from './sourceError.js';

/** The parts of the `cap` module we use (it ships no types). */
export interface CapModule {
  Cap: new () => CapHandle;
  deviceList(): CapDevice[];
}

export interface CapHandle {
  /**
   * Returns the link type's name ("ETHERNET", "LINKTYPE_LINUX_SLL", "RAW", "NULL", "Unknown linktype N"); throws
   * libpcap's error text. Our patch adds `snaplen` (cap's own is a fixed 65535) and `timeoutMs` (cap's own: immediate mode).
   */
  open(
    device: string,
    filter: string,
    bufferSize: number,
    buffer: Buffer,
    snaplen?: number,
    timeoutMs?: number,
  ): string;
  close(): boolean;
  /**
   * Our patch adds the packet header's capture time (seconds, nanoseconds) and original length; an unpatched cap
   * passes only the first two.
   */
  on(
    event: 'packet',
    listener: (length: number, truncated: boolean, seconds?: number, nanos?: number, wireLength?: number) => void,
  ): unknown;
  /** Batched delivery (our patch, after setBatched(true)): `count` records in the buffer, `bytes` of it used. */
  on(event: 'packets', listener: (count: number, bytes: number) => void): unknown;
  /** Our patch: deliver packets in batches (before open; the buffer must then hold a record of the largest). */
  setBatched?(on: boolean): void;
  removeAllListeners(event?: string): unknown;
  /** pcap_stats (our patch; absent from an unpatched cap): libpcap's 32-bit counters since open, which wrap. */
  stats?(): CapStats;
}

/** An open capture: its handle, link type, the buffer cap copies packets into and whether it batches them. */
interface OpenedCapture {
  handle: CapHandle;
  linkType: number;
  buffer: Buffer;
  batched: boolean;
}

export interface CapStats {
  /** Packets the kernel took for this capture (ps_recv). */
  received: number;
  /** Packets the kernel dropped for want of room in the capture ring (ps_drop). */
  dropped: number;
  /** Packets the interface dropped (ps_ifdrop; 0 where libpcap cannot tell, e.g. "any"). */
  ifDropped: number;
}

export interface CapDevice {
  name: string;
  description?: string;
}

export interface LiveCaptureTuning {
  /** libpcap's kernel buffer in bytes. */
  bufferSize?: number;
  /**
   * libpcap's read timeout in ms (DEFAULT_CAPTURE_TIMEOUT_MS unless set); 0 for immediate mode. Above 0 the kernel
   * packs packets into blocks at their own size (TPACKET_V3) and hands a block over when it is full or within about
   * this long (the kernel's block timer): 8 MiB holds tens of thousands of packets, and a
   * wakeup brings all a block holds. libpcap makes the blocks 256 KiB, so 8 MiB is 32 of them: a stalled process
   * loses nothing for 32 timeouts at least, longer where traffic fills blocks sooner. Immediate mode hands each
   * packet over at once, from a ring of slots each the size of the interface's largest frame (8 MiB holds about 120
   * packets, 60 on loopback, which takes two slots per packet), and wakes the process for every few packets: on the
   * 2-core VM of our benchmarks, 100,000 packets/s on loopback cost 3.7-4.6 µs of user and 2.7-3.9 µs of system time
   * a packet and lost 13% in immediate mode, against 0.23-0.36 and 0.10-0.13 µs and none with 1 ms.
   */
  timeoutMs?: number;
  /** Bytes captured of each frame (libpcap's snapshot length); longer frames are cut and counted as sliced. */
  snaplen?: number;
  /** How often kernel drop counters are read, in ms (and once more at stop). */
  statsIntervalMs?: number;
  /** Loads the cap module; tests replace it to play a machine without libpcap. */
  loadCap?: () => CapModule;
}

/**
 * tcpdump's and Wireshark's snaplen: frames are kept whole. Not cap's 65535, which cut the largest loopback frames
 * (65,535 bytes of IP behind a 14-byte Ethernet header) and aggregated ones (GRO). libpcap sizes immediate mode's ring
 * slots by the interface's largest frame rather than by this, so the ring holds as many packets as before.
 */
const DEFAULT_SNAPLEN = 262144;
const DEFAULT_STATS_INTERVAL_MS = 1000;
/** Batched delivery's buffer: a wakeup's packets, and at least one of the largest with its header. */
const BATCH_BUFFER_BYTES = 1024 * 1024;
/** A batched record's header: four host-order 32-bit words (captured length, original length, seconds, nanoseconds). */
const BATCH_RECORD_HEADER = 16;
/** libpcap's statistics are 32-bit counters. */
const COUNTER_WRAP = 2 ** 32;
/** libpcap's read timeout: the most a packet waits in the kernel's ring before it is handed over (see timeoutMs). */
export const DEFAULT_CAPTURE_TIMEOUT_MS = 1;
/** The kernel ring: what it holds in each mode is under LiveCaptureTuning.timeoutMs; a roomier one rides out more. */
export const DEFAULT_CAPTURE_BUFFER_SIZE = 8 * 1024 * 1024;
/** Every cap handle this process created: see the module comment for why none may become garbage. */
const everyHandle: CapHandle[] = [];

// cap is an optional dependency: where libpcap's headers are missing its build fails and npm leaves it out, so the
// fix is libpcap-dev and then a reinstall, which builds it.
const INSTALL_HINT =
  'install libpcap-dev (Debian/Ubuntu: apt-get install libpcap-dev), then reinstall hubble-ts so cap is built ' +
  '(npm ci in a checkout, npm install -g hubble-ts otherwise); pcap: sources, the relay and the client commands work without it';
const PERMISSION_HINT =
  'run as root or grant CAP_NET_RAW and CAP_NET_ADMIN, e.g. setcap cap_net_raw,cap_net_admin=eip $(which node)';

function loadCapModule(): CapModule {
  return createRequire(import.meta.url)('cap') as CapModule;
}

/** Link type numbers for the names cap returns; cap names only a few and gives the DLT number for others. */
function linkTypeOf(name: string): number {
  switch (name) {
    case 'ETHERNET':
      return LinkType.ETHERNET;
    case 'LINKTYPE_LINUX_SLL':
      return LinkType.LINUX_SLL;
    case 'RAW':
      return LinkType.RAW;
    case 'NULL':
      return LinkType.NULL;
    default: {
      const match = /^Unknown linktype (\d+)$/.exec(name);
      // DLT and LINKTYPE numbers agree for the ones we can use beyond the named few (SLL2, IPV4, IPV6).
      return match ? Number(match[1]) : -1;
    }
  }
}

function readSysNet(iface: string, file: string): string | undefined {
  try {
    return readFileSync(`/sys/class/net/${iface}/${file}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The interface's MAC as 6 bytes, or undefined when it has none worth comparing (loopback, tunnels, "any"). */
function macOf(iface: string): Uint8Array | undefined {
  const text = readSysNet(iface, 'address') ?? networkInterfaces()[iface]?.[0]?.mac;
  if (text === undefined || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(text)) return undefined;
  const mac = Uint8Array.from(text.split(':').map((h) => parseInt(h, 16)));
  return mac.some((b) => b !== 0) ? mac : undefined;
}

/** IFF_LOOPBACK in the interface's flags. */
function isLoopback(iface: string): boolean {
  const flags = readSysNet(iface, 'flags');
  return flags !== undefined && (parseInt(flags, 16) & 0x8) !== 0;
}

export class LiveCaptureSource implements EventSource {
  readonly description: string;

  constructor(
    readonly iface: string,
    readonly filter: string,
    private readonly options: SourceOptions,
    private readonly tuning: LiveCaptureTuning = {},
  ) {
    this.description = filter === '' ? `live:${iface}` : `live:${iface} (${filter})`;
  }

  async check(): Promise<void> {
    const cap = this.loadCap();
    const { handle } = this.openCapture(cap, 64 * 1024, this.tuning.snaplen ?? DEFAULT_SNAPLEN);
    handle.close();
  }

  run(publish: Publish | PublishTarget, signal: AbortSignal): Promise<SourceSummary> {
    const builder = new FrameEventBuilder(this.options.nodeName);
    const summary = (): SourceSummary => ({
      events: builder.events,
      bytes: builder.bytes,
      skipped: builder.skipped,
      unsupportedLinkTypes: [...builder.unsupportedLinkTypes],
      sliced: builder.sliced,
      dropped: drops.total,
      aborted: true,
    });
    const drops = { total: 0, kernel: 0, byInterface: 0 };
    if (signal.aborted) return Promise.resolve(summary());
    let cap: CapModule;
    let opened: OpenedCapture;
    try {
      cap = this.loadCap();
      opened = this.openCapture(
        cap,
        this.tuning.bufferSize ?? DEFAULT_CAPTURE_BUFFER_SIZE,
        this.tuning.snaplen ?? DEFAULT_SNAPLEN,
      );
    } catch (err) {
      return Promise.reject(err);
    }
    const { handle, linkType, buffer, batched } = opened;

    const ifindex = this.iface === 'any' ? 0 : Number(readSysNet(this.iface, 'ifindex') ?? 0);
    if (ifindex > 0) this.options.links?.register(ifindex, this.iface);
    const mac = linkType === LinkType.ETHERNET ? macOf(this.iface) : undefined;
    const loopback = isLoopback(this.iface);
    const frame = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length);
    const to = publishTargetOf(publish);

    // Wall-clock anchor for delivery-time stamps, for a cap without our patch (see the module comment).
    const anchorMs = Date.now();
    const anchorHr = process.hrtime.bigint();
    const anchorSeconds = Math.floor(anchorMs / 1000);
    const anchorNanos = (anchorMs % 1000) * 1e6;

    // Kernel and interface drops since the last look, published as one LostEvent (see the module comment).
    const readDrops = (): void => {
      let stats: CapStats;
      try {
        stats = handle.stats!();
      } catch {
        return;
      }
      const kernel = (stats.dropped - drops.kernel + COUNTER_WRAP) % COUNTER_WRAP;
      const byInterface = (stats.ifDropped - drops.byInterface + COUNTER_WRAP) % COUNTER_WRAP;
      drops.kernel = stats.dropped;
      drops.byInterface = stats.ifDropped;
      // A loopback packet takes two places in the ring, as it leaves and as it arrives (libpcap throws the first copy
      // away once read), so a packet lost is two drops; a stall that starts between the copies drops one more.
      const lost = (loopback ? Math.ceil(kernel / 2) : kernel) + byInterface;
      if (lost === 0) return;
      drops.total += lost;
      const nowMs = Date.now();
      const at = { seconds: Math.floor(nowMs / 1000), nanos: (nowMs % 1000) * 1e6 };
      to.publish(lostMonitorEvent(LostEventSource.PERF_EVENT_RING_BUFFER, lost, at, this.options.nodeName));
    };

    return new Promise<SourceSummary>((resolve, reject) => {
      let done = false;
      let statsTimer: NodeJS.Timeout | undefined;
      const finish = (error?: unknown) => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', onAbort);
        if (statsTimer !== undefined) {
          clearInterval(statsTimer);
          try {
            readDrops();
          } catch (err) {
            error ??= err;
          }
        }
        handle.removeAllListeners('packet');
        handle.removeAllListeners('packets');
        handle.close();
        if (error === undefined) resolve(summary());
        else reject(error);
      };
      const onAbort = () => finish();
      signal.addEventListener('abort', onAbort, { once: true });

      if (typeof handle.stats === 'function') {
        statsTimer = setInterval(() => {
          try {
            readDrops();
          } catch (err) {
            finish(err);
          }
        }, this.tuning.statsIntervalMs ?? DEFAULT_STATS_INTERVAL_MS);
        statsTimer.unref();
      }

      /**
       * One captured frame, `length` bytes at `at` in the buffer. A live capture cannot wait: what publish returns is
       * of no use.
       */
      const publishFrame = (at: number, length: number, wireLength: number, seconds: number, nanos: number) => {
        let direction: number = Direction.UNKNOWN;
        if (mac !== undefined && length >= 12) {
          direction = Direction.OUTBOUND;
          for (let i = 0; i < 6; i++) {
            if (frame[at + 6 + i] !== mac[i]) {
              direction = Direction.INBOUND;
              break;
            }
          }
        }
        builder.publish(to, frame, at, length, wireLength, linkType, direction, ifindex, seconds, nanos);
      };

      // An exception must not escape into cap's native callback (it would take the process down): end the run.
      if (batched) {
        const words = new Uint32Array(buffer.buffer, buffer.byteOffset, buffer.length >>> 2);
        handle.on('packets', (count: number) => {
          try {
            let at = 0;
            for (let i = 0; i < count && !done; i++) {
              const w = at >>> 2;
              const length = words[w]!;
              publishFrame(at + BATCH_RECORD_HEADER, length, words[w + 1]!, words[w + 2]!, words[w + 3]!);
              at += BATCH_RECORD_HEADER + ((length + 3) & ~3);
            }
          } catch (err) {
            finish(err);
          }
        });
        return;
      }
      handle.on(
        'packet',
        (length: number, _truncated: boolean, kernelSeconds?: number, kernelNanos?: number, wireLength?: number) => {
          if (done) return;
          let seconds: number;
          let nanos: number;
          if (kernelSeconds !== undefined) {
            seconds = kernelSeconds;
            nanos = kernelNanos!;
          } else {
            const sinceAnchor = anchorNanos + Number(process.hrtime.bigint() - anchorHr);
            seconds = anchorSeconds + Math.floor(sinceAnchor / 1e9);
            nanos = sinceAnchor % 1e9;
          }
          try {
            publishFrame(0, length, wireLength ?? length, seconds, nanos);
          } catch (err) {
            finish(err);
          }
        },
      );
    });
  }

  private loadCap(): CapModule {
    try {
      return (this.tuning.loadCap ?? loadCapModule)();
    } catch (err) {
      const notInstalled = (err as { code?: string }).code === 'MODULE_NOT_FOUND';
      const reason = notInstalled
        ? 'the optional cap module is not installed'
        : `the cap module cannot be loaded: ${((err as Error).message ?? String(err)).split('\n')[0]}`;
      throw new SourceError(
        'NO_LIBPCAP',
        `live:${this.iface}: live capture needs libpcap (${reason}); ${INSTALL_HINT}`,
      );
    }
  }

  /**
   * Opens the capture with our filter, batched where cap can (see the module comment), with the buffer cap copies
   * packets into; throws SourceError saying what is wrong when libpcap refuses.
   */
  private openCapture(cap: CapModule, bufferSize: number, snaplen: number): OpenedCapture {
    const devices = this.deviceNames(cap);
    if (!devices.includes(this.iface) && !existsSync(`/sys/class/net/${this.iface}`))
      throw this.noSuchInterface(devices);
    type Attempt = Omit<OpenedCapture, 'linkType'> & { linkTypeName: string };
    const attempt = (filter: string, size: number): Attempt | { error: string } => {
      const handle = new cap.Cap();
      everyHandle.push(handle);
      const batched = typeof handle.setBatched === 'function';
      // A batch buffer is an ArrayBuffer of its own, so its 32-bit headers are aligned.
      const buffer = batched
        ? Buffer.from(new ArrayBuffer(Math.max(BATCH_BUFFER_BYTES, BATCH_RECORD_HEADER + snaplen + 4)))
        : Buffer.alloc(snaplen);
      try {
        handle.setBatched?.(true);
        const linkTypeName = handle.open(
          this.iface,
          filter,
          size,
          buffer,
          snaplen,
          this.tuning.timeoutMs ?? DEFAULT_CAPTURE_TIMEOUT_MS,
        );
        return { handle, buffer, batched, linkTypeName };
      } catch (err) {
        return { error: (err as Error).message ?? String(err) };
      }
    };
    let result = attempt(this.filter, bufferSize);
    if ('error' in result && this.filter !== '') {
      // Is it the filter or the capture? Only an open without the filter can tell.
      const unfiltered = attempt('', 64 * 1024);
      if (!('error' in unfiltered)) {
        unfiltered.handle.close();
        throw new SourceError('BAD_SPEC', `live:${this.iface}: bad BPF filter "${this.filter}": ${result.error}`);
      }
      result = unfiltered;
    }
    if ('error' in result) throw this.openError(result.error, devices);
    const linkType = linkTypeOf(result.linkTypeName);
    if (!isSupportedLinkType(linkType)) {
      result.handle.close();
      throw new SourceError(
        'UNSUPPORTED_LINK_TYPE',
        `live:${this.iface}: libpcap reports link type "${result.linkTypeName}", which cannot be turned into Ethernet (${linkTypeName(linkType)})`,
      );
    }
    return { handle: result.handle, linkType, buffer: result.buffer, batched: result.batched };
  }

  private deviceNames(cap: CapModule): string[] {
    try {
      return cap.deviceList().map((d) => d.name);
    } catch (err) {
      throw new SourceError(
        'CAPTURE_FAILED',
        `live:${this.iface}: libpcap cannot list interfaces: ${(err as Error).message}`,
      );
    }
  }

  private noSuchInterface(devices: string[]): SourceError {
    return new SourceError(
      'NOT_FOUND',
      `live:${this.iface}: no interface "${this.iface}"; available: ${devices.join(', ')}`,
    );
  }

  private openError(message: string, devices: string[]): SourceError {
    if (/permission|not permitted|EPERM|EACCES/i.test(message)) {
      return new SourceError(
        'PERMISSION',
        `live:${this.iface}: not allowed to capture (${message}); ${PERMISSION_HINT}`,
      );
    }
    if (/no such device/i.test(message)) return this.noSuchInterface(devices);
    return new SourceError('CAPTURE_FAILED', `live:${this.iface}: libpcap cannot capture: ${message}`);
  }
}

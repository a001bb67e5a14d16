// The L7 parser's worker thread (started by offload.ts): reads the packet ring in order, adds the messages it finds to
// the shared L7 store, writes (ticket, kind, number) per record into the record ring, and reports after each packet
// how far it has got; it sleeps on the published position while there is nothing to read.
import { workerData } from 'node:worker_threads';
import { AddressTextCache } from '../../../packet/format.js';
import { L7Packet, SevenParser } from './index.js';
import { L7Store } from './l7Store.js';
import {
  Control,
  DNS_TCP_STATS_KEYS,
  Entry,
  HTTP_STATS_KEYS,
  PACKET_RING_BYTES,
  publishStats,
  RECORD_RING_SLOTS,
  WorkerMessage,
  type L7WorkerData,
} from './offload.js';

/** Longest sleep before the worker looks at its stop flag again (it is also woken to stop). */
const SLEEP_MS = 1000;
/**
 * Once caught up, the worker looks at the published position up to `spins` times (at most some tens of microseconds)
 * before going to sleep: while packets come densely the next ones are published within that, and neither side makes
 * a system call. The budget halves each time it runs out without news and doubles each time news came within it, or
 * came within SHORT_SLEEP_MS of going to sleep; so a trickle of packets (a quiet host) costs no spinning, and dense
 * traffic no sleeping. (Short timed sleeps instead cost more CPU than they saved: each arms a timer, dear in a virtual
 * machine.)
 */
const MAX_SPINS = 20_000;
const MIN_SPINS = 64;
const SHORT_SLEEP_MS = 0.05;
/** Packets read between two reports while busy (it also reports whenever it has caught up). */
const REPORT_EVERY = 32;
/** Packets between two reports of the trackers' counters while busy (they are also reported whenever it catches up). */
const STATS_EVERY = 4096;

const data = workerData as L7WorkerData;
const parser = new SevenParser(data.options, new L7Store(data.store));
const addresses = new AddressTextCache();
const control = new Int32Array(data.control);
const bytes = new Uint8Array(data.packets);
const words = new Uint32Array(data.packets);
const floats = new Float64Array(data.packets);
const records = new Float64Array(data.records);
const packet = new L7Packet();
const httpStats = new Float64Array(data.httpStats);
const dnsTcpStats = new Float64Array(data.dnsTcpStats);

// Positions modulo 2^32, as in Control.
let readAt = 0;
let answered = 0;
let written = 0;
let taken = 0;
let sinceStats = 0;
/** readAt as of the last report. */
let reportedAt = 0;

function publishCounters(): void {
  if (parser.httpStats !== undefined) publishStats(HTTP_STATS_KEYS, parser.httpStats, httpStats);
  if (parser.dnsTcpStats !== undefined) publishStats(DNS_TCP_STATS_KEYS, parser.dnsTcpStats, dnsTcpStats);
  sinceStats = 0;
}

/** Tells the Observer's thread how far this worker has got, waking it if it waits. */
function report(): void {
  Atomics.store(control, Control.RECORDS_WRITTEN, written);
  Atomics.store(control, Control.ANSWERED, answered);
  Atomics.store(control, Control.CONSUMED, readAt);
  reportedAt = readAt;
  Atomics.add(control, Control.PROGRESS, 1);
  if (Atomics.load(control, Control.OBSERVER_WAITS) === 1) Atomics.notify(control, Control.PROGRESS);
  if (Atomics.load(control, Control.WAKE_WANTED) === 1 && Atomics.exchange(control, Control.WAKE_WANTED, 0) === 1) {
    data.port.postMessage(WorkerMessage.ANSWERED);
  }
}

/** Waits until the record ring has room for one more record; false when told to stop meanwhile. */
function roomForRecord(): boolean {
  while (((written - taken) | 0) >= RECORD_RING_SLOTS) {
    taken = Atomics.load(control, Control.RECORDS_TAKEN);
    if (((written - taken) | 0) < RECORD_RING_SLOTS) break;
    report();
    Atomics.store(control, Control.WORKER_WAITS_FOR_ROOM, 1);
    Atomics.wait(control, Control.RECORDS_TAKEN, taken, SLEEP_MS);
    Atomics.store(control, Control.WORKER_WAITS_FOR_ROOM, 0);
    if (Atomics.load(control, Control.STOP) === 1) return false;
  }
  return true;
}

/** Reads the packet entry at ring offset `at`; false when told to stop meanwhile. */
function readEntry(at: number): boolean {
  const w = at >>> 2;
  const kinds = words[w + Entry.KINDS]!;
  const version = (kinds >>> 8) & 0xff;
  const addressLength = version === 4 ? 4 : 16;
  const source = at + Entry.ADDRESSES_BYTE;
  const destination = source + addressLength;
  const ports = words[w + Entry.PORTS]!;
  packet.protocol = kinds & 0xff;
  packet.tcpFlags = kinds >>> 16;
  packet.sourceIP = addresses.ip(bytes, source, version);
  packet.destinationIP = addresses.ip(bytes, destination, version);
  packet.sourcePort = ports & 0xffff;
  packet.destinationPort = ports >>> 16;
  packet.sequence = words[w + Entry.SEQUENCE]!;
  packet.acknowledgement = words[w + Entry.ACKNOWLEDGEMENT]!;
  packet.seconds = floats[(w >>> 1) + Entry.SECONDS_F64]!;
  packet.nanos = words[w + Entry.NANOS]!;
  packet.bytes = bytes;
  packet.payloadStart = destination + addressLength;
  packet.payloadEnd = packet.payloadStart + words[w + Entry.PAYLOAD_LENGTH]!;
  const count = parser.read(packet);
  const ticket = floats[(w >>> 1) + Entry.TICKET_F64]!;
  for (let i = 0; i < count; i++) {
    if (!roomForRecord()) return false;
    const slot = (written & (RECORD_RING_SLOTS - 1)) * 3;
    records[slot] = ticket;
    records[slot + 1] = parser.kinds[i]!;
    records[slot + 2] = parser.sequences[i]!;
    written = (written + 1) | 0;
  }
  return true;
}

function moreSpins(spins: number): number {
  return Math.min(MAX_SPINS, Math.max(MIN_SPINS, 2 * spins));
}

function run(): void {
  data.port.postMessage(WorkerMessage.READY);
  let spins = MAX_SPINS;
  for (;;) {
    let published = Atomics.load(control, Control.PUBLISHED);
    if (published === readAt) {
      if (sinceStats > 0) publishCounters();
      if (reportedAt !== readAt) report();
      if (Atomics.load(control, Control.STOP) === 1) return;
      for (let i = 0; i < spins && published === readAt; i++) published = Atomics.load(control, Control.PUBLISHED);
      if (published !== readAt) {
        spins = moreSpins(spins);
      } else {
        spins >>>= 1;
        const asleep = performance.now();
        Atomics.store(control, Control.WORKER_SLEEPS, 1);
        Atomics.wait(control, Control.PUBLISHED, published, SLEEP_MS);
        Atomics.store(control, Control.WORKER_SLEEPS, 0);
        if (performance.now() - asleep < SHORT_SLEEP_MS) spins = moreSpins(spins);
        continue;
      }
    }
    let unreported = 0;
    while (readAt !== published) {
      const at = readAt & (PACKET_RING_BYTES - 1);
      const size = words[at >>> 2]!;
      const length = size & ~Entry.PADDING;
      // Entries are written whole by the Observer's thread: one that is not is a bug there, never to be read on.
      if (length < (size === length ? Entry.ADDRESSES_BYTE : 4) || at + length > PACKET_RING_BYTES) {
        throw new Error(`the L7 packet ring holds an entry of ${length} bytes at offset ${at}`);
      }
      if (size !== length) {
        readAt = (readAt + length) | 0;
        continue;
      }
      if (!readEntry(at)) return;
      readAt = (readAt + size) | 0;
      answered = (answered + 1) | 0;
      // The counters go out before the last published packet counts as answered (settled() readers see them).
      if (++sinceStats === STATS_EVERY || readAt === published) publishCounters();
      if (++unreported === REPORT_EVERY || readAt === published) {
        unreported = 0;
        report();
      }
    }
  }
}

run();

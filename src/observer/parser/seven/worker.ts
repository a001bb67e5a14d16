// The L7 parser's worker thread (started by offload.ts): reads each batch of packets in order, adds the messages it
// finds to the shared L7 store, and answers with (entry, kind, number) per record and the trackers' counters.
import { workerData } from 'node:worker_threads';
import { AddressTextCache } from '../../../packet/format.js';
import { L7Packet, SevenParser } from './index.js';
import { L7Store } from './l7Store.js';
import {
  DNS_TCP_STATS_KEYS,
  Entry,
  HTTP_STATS_KEYS,
  publishStats,
  type L7Batch,
  type L7BatchAnswer,
  type L7WorkerData,
} from './offload.js';

const data = workerData as L7WorkerData;
const parser = new SevenParser(data.options, new L7Store(data.store));
const addresses = new AddressTextCache();
const control = new Int32Array(data.control);
const packet = new L7Packet();
let found = new Float64Array(3 * 1024);

const httpStats = new Float64Array(data.httpStats);
const dnsTcpStats = new Float64Array(data.dnsTcpStats);

data.port.on('message', (batch: L7Batch) => {
  const bytes = new Uint8Array(batch.buffer);
  const words = new Uint32Array(batch.buffer);
  const floats = new Float64Array(batch.buffer);
  let n = 0;
  let at = 0;
  for (let entry = 0; entry < batch.count; entry++) {
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
    if (n + 3 * count > found.length) {
      const larger = new Float64Array(Math.max(found.length * 2, n + 3 * count));
      larger.set(found.subarray(0, n));
      found = larger;
    }
    for (let i = 0; i < count; i++) {
      found[n++] = entry;
      found[n++] = parser.kinds[i]!;
      found[n++] = parser.sequences[i]!;
    }
    at += words[w + Entry.SIZE]!;
  }
  if (parser.httpStats !== undefined) publishStats(HTTP_STATS_KEYS, parser.httpStats, httpStats);
  if (parser.dnsTcpStats !== undefined) publishStats(DNS_TCP_STATS_KEYS, parser.dnsTcpStats, dnsTcpStats);
  const records = found.slice(0, n);
  const answer: L7BatchAnswer = { buffer: batch.buffer, records };
  data.port.postMessage(answer, [batch.buffer, records.buffer]);
  Atomics.add(control, 0, 1);
  Atomics.notify(control, 0);
});

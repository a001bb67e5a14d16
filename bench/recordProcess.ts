// One recording as a whole process, for bench/record.ts to time end to end against tcpdump: replays a capture
// through the same parts `hubble-ts serve` uses for a recording (pcap source -> monitor agent -> sink dispatcher ->
// sink) with one 5-tuple filter, stops the recording when the file ends, and prints its statistics as JSON.
//
// Usage: node --import tsx bench/recordProcess.ts IN OUT "SRC_CIDR SRC_PORT DST_CIDR DST_PORT PROTO" [QUEUE_SIZE]
import { MonitorAgent } from '../src/monitor/agent.js';
import { parseRecordFilters } from '../src/cli/record.js';
import { parseRecorderFilter } from '../src/recorder/startRequest.js';
import { SinkDispatcher } from '../src/sink/dispatcher.js';
import type { RecordingFilter } from '../src/sink/types.js';
import { PcapFileSource } from '../src/source/pcapFile.js';

/** "10.0.0.0/8 0 0.0.0.0/0 80 TCP", the form `hubble record` takes, through the CLI's and the recorder's parsers. */
export function parseFilterText(text: string): RecordingFilter {
  return parseRecorderFilter(parseRecordFilters([text])[0]!);
}

async function main(): Promise<void> {
  const [input, output, filterText, queueSize] = process.argv.slice(2);
  if (input === undefined || output === undefined || filterText === undefined) {
    throw new Error('usage: recordProcess.ts IN OUT "SRC_CIDR SRC_PORT DST_CIDR DST_PORT PROTO" [QUEUE_SIZE]');
  }
  const agent = new MonitorAgent();
  const dispatcher = new SinkDispatcher();
  agent.register(dispatcher);
  const sink = await dispatcher.startSink({
    ruleId: 1,
    filters: [parseFilterText(filterText)],
    maxCaptureLength: 0,
    stop: { packets: 0, bytes: 0, durationMs: 0 },
    path: output,
    queueSize: Number(queueSize ?? 1024),
  });
  const source = new PcapFileSource(input, { nodeName: 'bench' });
  const summary = await source.run(
    (event) => agent.publish(event),
    new AbortController().signal,
    () => agent.backlog(),
  );
  const end = await sink.stop();
  if (end.error !== undefined) throw end.error;
  process.stdout.write(JSON.stringify({ events: summary.events, ...end.statistics }) + '\n');
}

if (process.argv[1] === import.meta.filename) await main();

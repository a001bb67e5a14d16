// One recording as a whole process, for bench/record.ts to time end to end against tcpdump: replays a capture
// through the same parts `hubble-ts serve` uses for a recording (pcap source -> monitor agent -> sink dispatcher ->
// sink) with one 5-tuple filter, stops the recording when the file ends, and prints its statistics as JSON.
//
// It loads only that pipeline: the filter comes already validated by the recorder's parser (bench/record.ts runs
// it), as JSON with the prefixes as text, so the process does not load the CLI and gRPC to parse one line.
//
// Usage (bench/record.ts compiles it to bench/out/build/bench/): node recordProcess.js IN OUT FILTER_JSON [QUEUE_SIZE]
import { MonitorAgent } from '../src/monitor/agent.js';
import { parsePrefix } from '../src/packet/ipAddress.js';
import { SinkDispatcher } from '../src/sink/dispatcher.js';
import type { RecordingFilter, RecordingProtocol } from '../src/sink/types.js';
import { PcapFileSource } from '../src/source/pcapFile.js';

/** A RecordingFilter as JSON: the prefixes as their text. */
export interface FilterJson {
  source: string;
  sourcePort: number;
  destination: string;
  destinationPort: number;
  protocol: number;
}

export function filterToJson(filter: RecordingFilter): FilterJson {
  return {
    source: filter.source.text,
    sourcePort: filter.sourcePort,
    destination: filter.destination.text,
    destinationPort: filter.destinationPort,
    protocol: filter.protocol,
  };
}

export function filterFromJson(json: FilterJson): RecordingFilter {
  const prefix = (text: string) => {
    const parsed = parsePrefix(text);
    if (typeof parsed === 'string') throw new Error(`filter prefix ${text}: ${parsed}`);
    return parsed;
  };
  return {
    source: prefix(json.source),
    sourcePort: json.sourcePort,
    destination: prefix(json.destination),
    destinationPort: json.destinationPort,
    protocol: json.protocol as RecordingProtocol,
  };
}

async function main(): Promise<void> {
  const [input, output, filterJson, queueSize] = process.argv.slice(2);
  if (input === undefined || output === undefined || filterJson === undefined) {
    throw new Error('usage: recordProcess.js IN OUT FILTER_JSON [QUEUE_SIZE]');
  }
  const agent = new MonitorAgent();
  const dispatcher = new SinkDispatcher();
  agent.register(dispatcher);
  const sink = await dispatcher.startSink({
    ruleId: 1,
    filters: [filterFromJson(JSON.parse(filterJson) as FilterJson)],
    maxCaptureLength: 0,
    stop: { packets: 0, bytes: 0, durationMs: 0 },
    path: output,
    queueSize: Number(queueSize ?? 1024),
  });
  // As serve runs a source: publishing into the agent, waiting on its backlog.
  const summary = await new PcapFileSource(input, { nodeName: 'bench' }).run(agent, new AbortController().signal, () =>
    agent.backlog(),
  );
  const end = await sink.stop();
  if (end.error !== undefined) throw end.error;
  process.stdout.write(JSON.stringify({ events: summary.events, ...end.statistics }) + '\n');
}

if (process.argv[1] === import.meta.filename) await main();

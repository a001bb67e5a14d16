// What the recorder and the sinks agree on: a validated recording request, the statistics a sink keeps, and how a
// sink ended. The recorder validates and names; the sink dispatcher matches packets; a sink writes one pcap file.

import type { Prefix } from '../packet/ipAddress.js';

/** Transport protocol of a recording filter; numbers as recorder.Protocol (IANA). ANY matches every packet. */
export const RecordingProtocol = { ANY: 0, TCP: 6, UDP: 17, SCTP: 132 } as const;
export type RecordingProtocol = (typeof RecordingProtocol)[keyof typeof RecordingProtocol];

/** One validated recorder.Filter: both prefixes of the same family; port 0 means any port. */
export interface RecordingFilter {
  source: Prefix;
  sourcePort: number;
  destination: Prefix;
  destinationPort: number;
  protocol: RecordingProtocol;
}

/** recorder.RecordingStatistics. */
export interface RecordingStatistics {
  packetsCaptured: number;
  bytesCaptured: number;
  /** Matching packets dropped because the sink's queue was full (or the sink had failed). */
  packetsLost: number;
  bytesLost: number;
}

/** Stop conditions; 0 means "no limit" for each. The first one reached stops the recording, exactly. */
export interface StopCondition {
  packets: number;
  bytes: number;
  durationMs: number;
}

/** Why a sink stopped writing. */
export type SinkEndReason =
  /** StopRecording, or the client went away. */
  | 'stopped'
  | 'packet-limit'
  | 'byte-limit'
  | 'time-limit'
  /** The server is shutting down. */
  | 'shutdown'
  /** Writing failed (disk full, file removed, ...): `error` says what. */
  | 'error';

export interface SinkEnd {
  reason: SinkEndReason;
  error?: Error | undefined;
  /** Final statistics: every captured packet is in the file, which is a valid pcap. */
  statistics: RecordingStatistics;
}

export interface SinkOptions {
  /** 1..65534, leased by the recorder; RecorderCapture events carrying it go straight to this sink. */
  ruleId: number;
  filters: readonly RecordingFilter[];
  /** Bytes kept of each packet; 0 keeps the whole packet. Also the file's snaplen (0 writes 262144). */
  maxCaptureLength: number;
  stop: StopCondition;
  /** The file to create (exclusively, mode 0600); its directory exists. */
  path: string;
  /** Records held while the file is being written; beyond this, packets are dropped and counted lost. */
  queueSize: number;
  /** Statistics changed; called at most a few times a second while they keep changing (coalesced). */
  onStatistics?: ((statistics: Readonly<RecordingStatistics>) => void) | undefined;
}

/** One running recording. */
export interface Sink {
  readonly ruleId: number;
  readonly path: string;
  /** Bytes of the file that are written and readable (a valid pcap up to here). */
  readonly fileSize: number;
  statistics(): RecordingStatistics;
  /** Calls `listener` whenever more of the file has been written, until the sink ends; returns an unsubscribe. */
  onFileGrowth(listener: (fileSize: number) => void): () => void;
  /** Stops with `reason` (default 'stopped'), flushes and closes the file; resolves when it is closed. */
  stop(reason?: 'stopped' | 'shutdown'): Promise<SinkEnd>;
  /** Resolves once the sink has ended, however it ended (stop(), a stop condition, an error). Never rejects. */
  readonly ended: Promise<SinkEnd>;
}

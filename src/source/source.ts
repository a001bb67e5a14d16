// What every event source promises (publish MonitorEvents until the input ends or the caller aborts), its one error
// type, and the parser of source specs ("pcap:PATH", "live:IFACE[:BPF]") that the CLI and config hand us.

import type { CapturedFrame, MonitorEvent } from '../monitor/types.js';
import { LiveCaptureSource, type LiveCaptureTuning } from './liveCapture.js';
import { PcapFileSource } from './pcapFile.js';
import { SourceError } from './sourceError.js';

export { SourceError, type SourceErrorCode, type SourceErrorPosition } from './sourceError.js';

/**
 * Takes one event; returning true asks a source that can wait (a file replay) to wait for its backlog before
 * publishing more (see MonitorConsumer.onMonitorEvent).
 */
export type Publish = (event: MonitorEvent) => unknown;

/**
 * What a source publishes into when it is more than a function (the monitor agent). One that takes frames gets
 * capture sources' Ethernet frames as frames, so that an event is built only for consumers that read events; it
 * returns as publish does.
 */
export interface PublishTarget {
  publish(event: MonitorEvent): unknown;
  publishFrame?(frame: CapturedFrame): unknown;
}

/** A promise while consumers still have work queued (see MonitorConsumer.backlog), undefined when they have none. */
export type Backlog = () => Promise<void> | undefined;

/** Learns interface names by index (implemented by metadata); a source tells it the interfaces it captures on. */
export interface LinkRegistry {
  register(ifindex: number, name: string): void;
}

export interface SourceOptions {
  nodeName: string;
  links?: LinkRegistry | undefined;
  /** How live sources use libpcap's kernel ring (--capture-buffer-size, --capture-timeout). */
  capture?: LiveCaptureTuning | undefined;
}

export interface SourceSummary {
  /** Events published. */
  events: number;
  /** Captured frame bytes behind those events, as captured (before any link header was replaced). */
  bytes: number;
  /** Frames not published: their link type cannot be turned into Ethernet, or their link header is cut short. */
  skipped: number;
  /** Link types of the skipped frames (LINKTYPE_ numbers), when any were skipped for their link type. */
  unsupportedLinkTypes: number[];
  /** Frames captured shorter than they were on the wire (snaplen). */
  sliced: number;
  /**
   * Frames lost before the source could read them: for live capture what the kernel's capture ring and the interface
   * dropped (pcap_stats), each batch also published as a LostEvent; 0 for files.
   */
  dropped: number;
  /** True when the run ended because the signal aborted, not because the input ended. */
  aborted: boolean;
}

export interface EventSource {
  /** What the source reads, for logs: "pcap:/tmp/x.pcap", "live:eth0 (tcp port 80)". */
  readonly description: string;
  /**
   * Checks what can be checked before running (the file opens and is a capture; a pipe opens, its bytes being for
   * run() to judge as they come; libpcap loads, the interface exists, the capture opens with the filter), so a server
   * can refuse to start instead of logging later.
   * Rejects with the SourceError run() would give for the same problem.
   */
  check(): Promise<void>;
  /**
   * Publishes events until the input ends (file) or the signal aborts (live); resolves with a summary; rejects with
   * SourceError. A source that can wait (a file replay) awaits `backlog` between chunks, and at once when a publish
   * returns true, so consumers that write later (recordings) keep up instead of dropping; a live capture cannot wait
   * and ignores both.
   */
  run(publish: Publish | PublishTarget, signal: AbortSignal, backlog?: Backlog): Promise<SourceSummary>;
}

const ACCEPTED_FORMS =
  'pcap:PATH (replay a pcap or pcapng file), live:IFACE or live:IFACE:BPF-FILTER (capture with libpcap; IFACE may be "any")';

/** Linux interface names: 1-15 bytes, no slash, colon or whitespace (IFNAMSIZ and dev_valid_name). */
const INTERFACE_NAME = /^[^\s/:]{1,15}$/;

/** Parses a source spec without touching the file system or libpcap; throws SourceError('BAD_SPEC'). */
export function parseSourceSpec(spec: string, options: SourceOptions): EventSource {
  const colon = spec.indexOf(':');
  const scheme = colon < 0 ? '' : spec.slice(0, colon);
  const rest = colon < 0 ? '' : spec.slice(colon + 1);
  switch (scheme) {
    case 'pcap':
      if (rest === '') {
        throw new SourceError(
          'BAD_SPEC',
          `source "${spec}": pcap: needs a file path; accepted forms: ${ACCEPTED_FORMS}`,
        );
      }
      return new PcapFileSource(rest, options);
    case 'live': {
      // The filter may itself hold colons (IPv6 addresses), so only the first one separates it from the interface.
      const sep = rest.indexOf(':');
      const iface = sep < 0 ? rest : rest.slice(0, sep);
      const filter = sep < 0 ? '' : rest.slice(sep + 1).trim();
      if (!INTERFACE_NAME.test(iface)) {
        throw new SourceError(
          'BAD_SPEC',
          `source "${spec}": "${iface}" is not an interface name (1-15 characters, no "/", ":" or spaces); accepted forms: ${ACCEPTED_FORMS}`,
        );
      }
      return new LiveCaptureSource(iface, filter, options, options.capture);
    }
    default:
      throw new SourceError('BAD_SPEC', `source "${spec}" is not understood; accepted forms: ${ACCEPTED_FORMS}`);
  }
}

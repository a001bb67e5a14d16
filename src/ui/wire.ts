// What the web UI's HTTP endpoints and the page say to each other: imported by the server (src/ui) and bundled into
// the page (ui/), so both sides are checked against one definition. Plain data only: no imports, no DOM, no Node.

/** GET /api/flows answers with this header: "1" when the stream follows (the Follow switch, or a typed --follow). */
export const FOLLOWS_HEADER = 'x-hubble-ts-follows';

/** GET /api/info: what this server is and which parts of the page it offers. */
export interface UiInfo {
  /** A node (`hubble-ts serve`) or Hubble Relay (`hubble-ts relay`). */
  mode: 'node' | 'relay';
  /** The node's name, or the relay's. */
  name: string;
  version: string;
  /** Recordings are offered only where the Recorder is: on a node, and there only under the conditions README states. */
  recorder: { enabled: true } | { enabled: false; reason: string };
  /** Flows a request asks for when its flags select none (`--last`), and the most rows the page's table keeps. */
  defaultLast: number;
  /** The filter flags the filter box takes, for its help text. */
  filterFlags: readonly FilterFlagHelp[];
}

export interface FilterFlagHelp {
  /** Without dashes: "port", "from-pod". */
  name: string;
  short?: string;
  boolean?: true;
  description: string;
}

/** Where a flow's endpoint sits on the service map. */
export interface MapEndpoint {
  /** The node's identity on the map: "ns/workload", "ns/pod", "ns/service", "reserved:world", a DNS name, an IP. */
  id: string;
  /** What the map writes under the node. */
  label: string;
  kind: 'workload' | 'pod' | 'service' | 'reserved' | 'fqdn' | 'ip';
  /** "" outside Kubernetes namespaces. */
  namespace: string;
  /** The endpoint's IP address as the flow has it ("" for a flow without IP). */
  ip: string;
}

/** One flow as the page shows it: hubble's compact columns, the exact `-o json` line, and its place on the map. */
export interface FlowRow {
  /** hubble compact's columns, as `hubble observe` prints them (time in StampMilli, UTC). */
  time: string;
  node: string;
  source: string;
  /** "->" a request, "<-" a reply (source and destination are then swapped, as compact output does), "<>" unknown. */
  arrow: '->' | '<-' | '<>';
  destination: string;
  type: string;
  verdict: string;
  summary: string;
  /** How the verdict is coloured: FORWARDED/REDIRECTED, DROPPED/ERROR, anything else. */
  tone: 'forwarded' | 'dropped' | 'other';
  /** The line `hubble observe -o json` prints for this flow, without its newline. */
  json: string;
  /** The service map's view: from the client's side to the server's (replies turned around). */
  edge: {
    from: MapEndpoint;
    to: MapEndpoint;
    /** "TCP", "UDP", "ICMPv4", ... or "" when the flow has no L4. */
    protocol: string;
    /** The server side's port (destination of a request); 0 when the protocol has none. */
    port: number;
  };
}

/** An `event: flows` message of GET /api/flows. Counters are totals since the stream began. */
export interface FlowsBatch {
  flows: FlowRow[];
  /** Flows this server left out because the page read too slowly (its queue was full). */
  dropped: number;
  /** Events the observer reported lost (its ring overtook the reader, or sources lost them). */
  lost: number;
}

/** An `event: nodes` message: a node joined, left or failed (through the relay). */
export interface NodeStatusMessage {
  state: string;
  nodes: string[];
  message: string;
}

/** An `event: end` message: the stream ended; `reason` says why in a person's words when it was not the plain end. */
export interface StreamEnd {
  error?: string;
}

/** GET /api/status: the server's ServerStatus, as numbers. */
export interface StatusInfo {
  numFlows: number;
  maxFlows: number;
  seenFlows: number;
  uptimeSeconds: number;
  flowsRate: number;
  connectedNodes?: number;
  unavailableNodes?: number;
  version: string;
  /** This UI server's own counters: browsers following flows now, and flows left out for slow ones since it started. */
  ui: { streams: number; dropped: number };
}

/** GET /api/nodes: GetNodes, with states by name. */
export interface NodeInfo {
  name: string;
  version: string;
  address: string;
  state: string;
  tls: boolean;
  uptimeSeconds: number;
  numFlows: number;
  maxFlows: number;
  seenFlows: number;
}

/** GET /api/namespaces. */
export interface NamespaceInfo {
  cluster: string;
  namespace: string;
}

/** One 5-tuple of a recording, as `hubble record` takes it. */
export interface RecordingFilterForm {
  sourceCidr: string;
  sourcePort: number;
  destinationCidr: string;
  destinationPort: number;
  protocol: 'ANY' | 'TCP' | 'UDP' | 'SCTP';
}

/** POST /api/recordings. Limits of 0 mean none; at least one limit is required (the page may not record forever). */
export interface StartRecordingForm {
  filters: RecordingFilterForm[];
  filePrefix: string;
  /** Bytes kept of each packet; 0 keeps them whole. */
  maxCaptureLength: number;
  packets: number;
  bytes: number;
  durationSeconds: number;
}

export interface RecordingStats {
  bytesCaptured: number;
  packetsCaptured: number;
  packetsLost: number;
  bytesLost: number;
}

/** One entry of GET /api/recordings. */
export interface RecordingInfo {
  name: string;
  size: number;
  /** RFC 3339. */
  created: string;
  modified: string;
  stats?: RecordingStats;
  running: boolean;
  nodeName: string;
  filePath: string;
  /** This page can stop it (it was started here; others are stopped where they were started). */
  stoppable: boolean;
}

/** Every error answer of the JSON endpoints: one sentence a person can act on. */
export interface ErrorBody {
  error: string;
}

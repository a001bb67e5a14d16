// One GetFlowsResponse as the page shows it: hubble's compact columns (by the CLI's own printer), the `-o json` line
// (by the compiled printer the exporter uses, equal to the reference), and where the flow sits on the service map.
import { Verdict, type Endpoint, type Flow, type Service } from '../api/flow/flow.js';
import { GetFlowsResponse } from '../api/observer/observer.js';
import { FlowPrinter } from '../cli/flowPrinter.js';
import { reservedIdentityName } from '../cli/monitorNames.js';
import { compiledPrinter } from '../protojson/compiledPrinter.js';
import { goJsonEscape } from '../protojson/protojson.js';
import type { FlowRow, MapEndpoint } from './wire.js';

const NO_OUTPUT = { write: () => true };

/** Identities below this are Cilium's reserved ones (host, world, ...). */
const MAX_RESERVED_IDENTITY = 255;

/**
 * Where an endpoint sits on the map: its workload (namespace and workload name, from the inventory or Kubernetes),
 * else its pod, else the service it was addressed as, else its reserved identity (a world address by its DNS name when
 * one is known, as Hubble UI shows it), else its IP address.
 */
export function mapEndpoint(
  ep: Endpoint | undefined,
  ip: string,
  service: Service | undefined,
  names: readonly string[],
): MapEndpoint {
  const namespace = ep?.namespace ?? '';
  const workload = ep?.workloads[0];
  if (namespace !== '' && workload !== undefined && workload.name !== '') {
    return { id: `${namespace}/${workload.name}`, label: workload.name, kind: 'workload', namespace, ip };
  }
  if (namespace !== '' && ep!.podName !== '') {
    return { id: `${namespace}/${ep!.podName}`, label: ep!.podName, kind: 'pod', namespace, ip };
  }
  if (service !== undefined && service.name !== '') {
    return {
      id: `${service.namespace}/${service.name}`,
      label: service.name,
      kind: 'service',
      namespace: service.namespace,
      ip,
    };
  }
  const identity = ep?.identity ?? 0;
  const reserved = identity > 0 && identity <= MAX_RESERVED_IDENTITY ? reservedIdentityName(identity) : undefined;
  if (reserved !== undefined) {
    if (reserved.startsWith('world') && names.length > 0) {
      return { id: names[0]!, label: names[0]!, kind: 'fqdn', namespace: '', ip };
    }
    return { id: `reserved:${reserved}`, label: `reserved:${reserved}`, kind: 'reserved', namespace: '', ip };
  }
  if (namespace !== '') return { id: `${namespace}/${ip}`, label: ip, kind: 'ip', namespace, ip };
  return { id: ip === '' ? 'unknown' : ip, label: ip === '' ? 'unknown' : ip, kind: 'ip', namespace: '', ip };
}

function layer4(f: Flow): { protocol: string; sourcePort: number; destinationPort: number } {
  const l4 = f.l4;
  if (l4 === undefined) return { protocol: '', sourcePort: 0, destinationPort: 0 };
  const ports = l4.TCP ?? l4.UDP ?? l4.SCTP;
  const protocol = l4.TCP
    ? 'TCP'
    : l4.UDP
      ? 'UDP'
      : l4.SCTP
        ? 'SCTP'
        : l4.ICMPv4
          ? 'ICMPv4'
          : l4.ICMPv6
            ? 'ICMPv6'
            : l4.VRRP
              ? 'VRRP'
              : l4.IGMP
                ? 'IGMP'
                : '';
  return { protocol, sourcePort: ports?.sourcePort ?? 0, destinationPort: ports?.destinationPort ?? 0 };
}

function tone(v: Verdict): FlowRow['tone'] {
  if (v === Verdict.FORWARDED || v === Verdict.REDIRECTED) return 'forwarded';
  if (v === Verdict.DROPPED || v === Verdict.ERROR) return 'dropped';
  return 'other';
}

/** Builds rows; one per UI server, its printers compiled once. */
export class FlowRowBuilder {
  private readonly printer = new FlowPrinter({ output: 'compact', out: NO_OUTPUT, err: NO_OUTPUT });
  private readonly json = compiledPrinter(GetFlowsResponse, 'observer.GetFlowsResponse');

  /** The row for a response carrying a flow. */
  row(res: GetFlowsResponse & { flow: Flow }): FlowRow {
    const f = res.flow;
    const c = this.printer.compactColumns(f);
    const source = mapEndpoint(f.source, f.IP?.source ?? '', f.sourceService, f.sourceNames);
    const destination = mapEndpoint(f.destination, f.IP?.destination ?? '', f.destinationService, f.destinationNames);
    const l4 = layer4(f);
    // The map draws client -> server: a reply is turned around, and its source port is the server's.
    const reply = f.isReply === true;
    return {
      time: c.time,
      node: f.nodeName,
      source: c.source,
      arrow: c.arrow,
      destination: c.destination,
      type: c.type,
      verdict: c.verdict,
      summary: c.summary,
      tone: tone(f.verdict),
      json: goJsonEscape(this.json(res)),
      edge: {
        from: reply ? destination : source,
        to: reply ? source : destination,
        protocol: l4.protocol,
        port: reply ? l4.sourcePort : l4.destinationPort,
      },
    };
  }
}

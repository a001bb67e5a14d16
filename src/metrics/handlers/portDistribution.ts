// hubble_port_distribution_total{protocol, port, <context>}: forwarded (or redirected) flows that are known not to be
// replies, by destination port; ICMP, VRRP and IGMP under port "0". A flow whose reply status is unknown is left out,
// as Hubble does, since its destination port may be the client's.
import { Verdict, type Flow } from '../../api/flow/flow.js';
import type { FlowContext } from '../context.js';
import { numberText } from '../flowNames.js';
import { BoundedCounterVec } from '../labelSets.js';
import { handlerContext, NAMESPACE, type HandlerInit, type MetricHandler } from './handler.js';

export class PortDistributionHandler implements MetricHandler {
  readonly name = 'port-distribution' as const;
  readonly vectors: readonly BoundedCounterVec[];
  private readonly ports: BoundedCounterVec;
  private readonly context: FlowContext;
  private readonly values: string[];

  constructor({ options, limit }: HandlerInit) {
    this.context = handlerContext(this.name, options);
    const labels = ['protocol', 'port', ...this.context.labelNames];
    this.ports = new BoundedCounterVec(
      `${NAMESPACE}_port_distribution_total`,
      'Numbers of packets distributed by destination port',
      labels,
      limit,
    );
    this.vectors = [this.ports];
    this.values = new Array<string>(labels.length).fill('');
  }

  processFlow(flow: Flow): void {
    if (flow.verdict !== Verdict.FORWARDED && flow.verdict !== Verdict.REDIRECTED) return;
    if (flow.isReply !== false) return;
    const l4 = flow.l4;
    if (l4 === undefined) return;
    let protocol: string;
    let port = 0;
    if (l4.TCP !== undefined) {
      protocol = 'TCP';
      port = l4.TCP.destinationPort;
    } else if (l4.UDP !== undefined) {
      protocol = 'UDP';
      port = l4.UDP.destinationPort;
    } else if (l4.SCTP !== undefined) {
      protocol = 'SCTP';
      port = l4.SCTP.destinationPort;
    } else if (l4.ICMPv4 !== undefined) protocol = 'ICMPv4';
    else if (l4.ICMPv6 !== undefined) protocol = 'ICMPv6';
    else if (l4.VRRP !== undefined) protocol = 'VRRP';
    else if (l4.IGMP !== undefined) protocol = 'IGMP';
    else return;
    const v = this.values;
    v[0] = protocol;
    v[1] = numberText(port);
    this.context.fill(flow, v, 2);
    this.ports.inc(v);
  }
}

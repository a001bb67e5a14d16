// hubble_icmp_total{family, type, <context>}: ICMP messages by family and gopacket's name of their type and code.
// Hubble labelled ICMPv6 messages "IPv4" until it fixed that typo (cilium/cilium#41427); this is the fixed form.
import type { Flow } from '../../api/flow/flow.js';
import type { FlowContext } from '../context.js';
import { icmpv4TypeName, icmpv6TypeName } from '../flowNames.js';
import { BoundedCounterVec } from '../labelSets.js';
import { handlerContext, NAMESPACE, type HandlerInit, type MetricHandler } from './handler.js';

export class IcmpHandler implements MetricHandler {
  readonly name = 'icmp' as const;
  readonly vectors: readonly BoundedCounterVec[];
  private readonly icmp: BoundedCounterVec;
  private readonly context: FlowContext;
  private readonly values: string[];

  constructor({ options, limit }: HandlerInit) {
    this.context = handlerContext(this.name, options);
    const labels = ['family', 'type', ...this.context.labelNames];
    this.icmp = new BoundedCounterVec(`${NAMESPACE}_icmp_total`, 'Number of ICMP messages', labels, limit);
    this.vectors = [this.icmp];
    this.values = new Array<string>(labels.length).fill('');
  }

  processFlow(flow: Flow): void {
    const l4 = flow.l4;
    if (l4 === undefined) return;
    const v4 = l4.ICMPv4;
    const v6 = l4.ICMPv6;
    if (v4 === undefined && v6 === undefined) return;
    const v = this.values;
    this.context.fill(flow, v, 2);
    if (v4 !== undefined) {
      v[0] = 'IPv4';
      v[1] = icmpv4TypeName(v4.type, v4.code);
      this.icmp.inc(v);
    }
    if (v6 !== undefined) {
      v[0] = 'IPv6';
      v[1] = icmpv6TypeName(v6.type, v6.code);
      this.icmp.inc(v);
    }
  }
}

// hubble_tcp_flags_total{flag, family, <context>}: SYN, SYN-ACK, FIN and RST seen in forwarded (or redirected) flows.
import { Verdict, type Flow } from '../../api/flow/flow.js';
import type { FlowContext } from '../context.js';
import { ipVersionName } from '../flowNames.js';
import { BoundedCounterVec } from '../labelSets.js';
import { handlerContext, NAMESPACE, type HandlerInit, type MetricHandler } from './handler.js';

export class TcpHandler implements MetricHandler {
  readonly name = 'tcp' as const;
  readonly vectors: readonly BoundedCounterVec[];
  private readonly tcpFlags: BoundedCounterVec;
  private readonly context: FlowContext;
  private readonly values: string[];

  constructor({ options, limit }: HandlerInit) {
    this.context = handlerContext(this.name, options);
    const labels = ['flag', 'family', ...this.context.labelNames];
    this.tcpFlags = new BoundedCounterVec(`${NAMESPACE}_tcp_flags_total`, 'TCP flag occurrences', labels, limit);
    this.vectors = [this.tcpFlags];
    this.values = new Array<string>(labels.length).fill('');
  }

  processFlow(flow: Flow): void {
    if (flow.verdict !== Verdict.FORWARDED && flow.verdict !== Verdict.REDIRECTED) return;
    const flags = flow.l4?.TCP?.flags;
    const ip = flow.IP;
    if (flags === undefined || ip === undefined) return;
    if (!flags.FIN && !flags.SYN && !flags.RST) return;
    const v = this.values;
    v[1] = ipVersionName(ip.ipVersion);
    this.context.fill(flow, v, 2);
    if (flags.FIN) {
      v[0] = 'FIN';
      this.tcpFlags.inc(v);
    }
    if (flags.SYN) {
      v[0] = flags.ACK ? 'SYN-ACK' : 'SYN';
      this.tcpFlags.inc(v);
    }
    if (flags.RST) {
      v[0] = 'RST';
      this.tcpFlags.inc(v);
    }
  }
}

// hubble_drop_total{<context>, reason, protocol}: dropped flows by drop reason (the DropReason enum name).
import { Verdict, type Flow } from '../../api/flow/flow.js';
import type { FlowContext } from '../context.js';
import { dropReasonName, flowProtocol } from '../flowNames.js';
import { BoundedCounterVec } from '../labelSets.js';
import { handlerContext, NAMESPACE, type HandlerInit, type MetricHandler } from './handler.js';

export class DropHandler implements MetricHandler {
  readonly name = 'drop' as const;
  readonly vectors: readonly BoundedCounterVec[];
  private readonly drops: BoundedCounterVec;
  private readonly context: FlowContext;
  private readonly values: string[];
  private readonly at: number;

  constructor({ options, limit }: HandlerInit) {
    this.context = handlerContext(this.name, options);
    // As Hubble: the context labels first, then the handler's own.
    const labels = [...this.context.labelNames, 'reason', 'protocol'];
    this.at = this.context.labelNames.length;
    this.drops = new BoundedCounterVec(`${NAMESPACE}_drop_total`, 'Number of drops', labels, limit);
    this.vectors = [this.drops];
    this.values = new Array<string>(labels.length).fill('');
  }

  processFlow(flow: Flow): void {
    if (flow.verdict !== Verdict.DROPPED) return;
    const v = this.values;
    this.context.fill(flow, v, 0);
    v[this.at] = dropReasonName(flow.dropReasonDesc);
    v[this.at + 1] = flowProtocol(flow);
    this.drops.inc(v);
  }
}

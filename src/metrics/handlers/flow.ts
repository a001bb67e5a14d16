// hubble_flows_processed_total{protocol, type, subtype, verdict, <context>}: every flow, by what kind of event it came
// from (Trace with its observation point, Drop, PolicyVerdict, Capture, L7 with DNS/HTTP) and its verdict.
import type { Flow } from '../../api/flow/flow.js';
import { MessageType } from '../../monitor/datapath/messageType.js';
import type { FlowContext } from '../context.js';
import { flowProtocol, numberText, observationPointLabel, verdictName } from '../flowNames.js';
import { BoundedCounterVec } from '../labelSets.js';
import { handlerContext, NAMESPACE, type HandlerInit, type MetricHandler } from './handler.js';

export class FlowHandler implements MetricHandler {
  readonly name = 'flow' as const;
  readonly vectors: readonly BoundedCounterVec[];
  private readonly flows: BoundedCounterVec;
  private readonly context: FlowContext;
  private readonly values: string[];

  constructor({ options, limit }: HandlerInit) {
    this.context = handlerContext(this.name, options);
    const labels = ['protocol', 'type', 'subtype', 'verdict', ...this.context.labelNames];
    this.flows = new BoundedCounterVec(
      `${NAMESPACE}_flows_processed_total`,
      'Total number of flows processed',
      labels,
      limit,
    );
    this.vectors = [this.flows];
    this.values = new Array<string>(labels.length).fill('');
  }

  processFlow(flow: Flow): void {
    const v = this.values;
    v[0] = flowProtocol(flow);
    const type = flow.eventType?.type ?? 0;
    switch (type) {
      case MessageType.ACCESS_LOG:
        v[1] = 'L7';
        v[2] = flow.l7?.dns !== undefined ? 'DNS' : flow.l7?.http !== undefined ? 'HTTP' : '';
        break;
      case MessageType.DROP:
        v[1] = 'Drop';
        v[2] = '';
        break;
      case MessageType.CAPTURE:
        v[1] = 'Capture';
        v[2] = '';
        break;
      case MessageType.TRACE:
        v[1] = 'Trace';
        v[2] = observationPointLabel(flow.eventType!.subType);
        break;
      case MessageType.POLICY_VERDICT:
        v[1] = 'PolicyVerdict';
        v[2] = '';
        break;
      default:
        v[1] = 'Unknown';
        v[2] = numberText(type);
    }
    v[3] = verdictName(flow.verdict);
    this.context.fill(flow, v, 4);
    this.flows.inc(v);
  }
}

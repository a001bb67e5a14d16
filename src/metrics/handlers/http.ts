// Hubble's two HTTP handlers, from L7 HTTP flows. reporter is "client" for egress flows, "server" for ingress ones,
// "unknown" otherwise; durations are the L7 latency of responses, in seconds. Interim (1xx) responses are not counted.
//
// http (deprecated upstream, kept for existing dashboards): hubble_http_requests_total{<context>, method, protocol,
//   reporter} from requests; hubble_http_responses_total{<context>, method, protocol, status, reporter} and
//   hubble_http_request_duration_seconds{<context>, method, reporter} from responses.
// httpV2: hubble_http_requests_total{<context>, method, protocol, status, reporter} and the duration histogram, both
//   from responses, with source and destination labels describing the request (the response's endpoints swapped).
//
// exemplars=true (trace ids on samples) is taken and has no effect: exemplars need the OpenMetrics format, which this
// endpoint does not serve.
import { L7FlowType, TrafficDirection, type Flow } from '../../api/flow/flow.js';
import type { FlowContext } from '../context.js';
import { numberText } from '../flowNames.js';
import { BoundedCounterVec, BoundedHistogramVec } from '../labelSets.js';
import { flagOption, handlerContext, NAMESPACE, type HandlerInit, type MetricHandler } from './handler.js';

/**
 * An interim response (100 Continue, 102, 103; not 101, which ends an upgrade) is not its request's answer: Hubble's
 * proxy passes it on without logging it, so it is neither counted nor timed here (its flow is still shown).
 */
function isInterim(code: number): boolean {
  return code >= 100 && code < 200 && code !== 101;
}

function reporter(flow: Flow): string {
  switch (flow.trafficDirection) {
    case TrafficDirection.EGRESS:
      return 'client';
    case TrafficDirection.INGRESS:
      return 'server';
    default:
      return 'unknown';
  }
}

export class HttpHandler implements MetricHandler {
  readonly name: 'http' | 'httpV2';
  readonly vectors: readonly (BoundedCounterVec | BoundedHistogramVec)[];
  private readonly requests: BoundedCounterVec;
  private readonly responses: BoundedCounterVec | undefined;
  private readonly duration: BoundedHistogramVec;
  private readonly context: FlowContext;
  private readonly at: number;
  private readonly requestValues: string[];
  private readonly responseValues: string[];
  private readonly durationValues: string[];

  constructor({ options, limit }: HandlerInit, version: 'http' | 'httpV2') {
    this.name = version;
    const v2 = version === 'httpV2';
    this.context = handlerContext(version, options, ['exemplars'], v2);
    // Checked, then left unused: exemplars exist only in the OpenMetrics format, which this endpoint does not serve
    // (Hubble without OpenMetrics takes the option and shows none either).
    flagOption(version, options, 'exemplars');
    const contextLabels = this.context.labelNames;
    this.at = contextLabels.length;
    const requestLabels = v2
      ? [...contextLabels, 'method', 'protocol', 'status', 'reporter']
      : [...contextLabels, 'method', 'protocol', 'reporter'];
    const responseLabels = [...contextLabels, 'method', 'protocol', 'status', 'reporter'];
    const durationLabels = [...contextLabels, 'method', 'reporter'];
    this.requests = new BoundedCounterVec(
      `${NAMESPACE}_http_requests_total`,
      'Count of HTTP requests',
      requestLabels,
      limit,
    );
    this.responses = v2
      ? undefined
      : new BoundedCounterVec(`${NAMESPACE}_http_responses_total`, 'Count of HTTP responses', responseLabels, limit);
    this.duration = new BoundedHistogramVec(
      `${NAMESPACE}_http_request_duration_seconds`,
      'Quantiles of HTTP request duration in seconds',
      durationLabels,
      limit,
    );
    this.vectors = this.responses ? [this.requests, this.responses, this.duration] : [this.requests, this.duration];
    this.requestValues = new Array<string>(requestLabels.length).fill('');
    this.responseValues = new Array<string>(responseLabels.length).fill('');
    this.durationValues = new Array<string>(durationLabels.length).fill('');
  }

  processFlow(flow: Flow): void {
    const l7 = flow.l7;
    const http = l7?.http;
    if (l7 === undefined || http === undefined) return;
    const at = this.at;
    const who = reporter(flow);
    if (l7.type === L7FlowType.REQUEST) {
      if (this.responses === undefined) return; // httpV2 counts requests from their responses
      const v = this.requestValues;
      this.context.fill(flow, v, 0);
      v[at] = http.method;
      v[at + 1] = http.protocol;
      v[at + 2] = who;
      this.requests.inc(v);
      return;
    }
    if (l7.type !== L7FlowType.RESPONSE || isInterim(http.code)) return;
    const v = this.responseValues;
    this.context.fill(flow, v, 0);
    v[at] = http.method;
    v[at + 1] = http.protocol;
    v[at + 2] = numberText(http.code);
    v[at + 3] = who;
    (this.responses ?? this.requests).inc(v);
    const d = this.durationValues;
    for (let i = 0; i < at; i++) d[i] = v[i]!;
    d[at] = http.method;
    d[at + 1] = who;
    this.duration.observe(d, l7.latencyNs / 1e9);
  }
}

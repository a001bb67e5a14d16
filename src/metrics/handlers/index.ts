// Builds the handlers --metrics enables, in the order given; a handler's options are checked as it is built.
import type { LabelSetLimit } from '../labelSets.js';
import type { HandlerName, MetricsHandlerSpec } from '../options.js';
import { DnsHandler } from './dns.js';
import { DropHandler } from './drop.js';
import { FlowHandler } from './flow.js';
import type { HandlerInit, MetricHandler } from './handler.js';
import { HttpHandler } from './http.js';
import { IcmpHandler } from './icmp.js';
import { PortDistributionHandler } from './portDistribution.js';
import { TcpHandler } from './tcp.js';

export type { MetricHandler } from './handler.js';

const FACTORIES: Readonly<Record<HandlerName, (init: HandlerInit) => MetricHandler>> = {
  flow: (init) => new FlowHandler(init),
  drop: (init) => new DropHandler(init),
  tcp: (init) => new TcpHandler(init),
  icmp: (init) => new IcmpHandler(init),
  'port-distribution': (init) => new PortDistributionHandler(init),
  dns: (init) => new DnsHandler(init),
  http: (init) => new HttpHandler(init, 'http'),
  httpV2: (init) => new HttpHandler(init, 'httpV2'),
};

/** Builds one handler per spec; MetricsOptionError naming the handler and option when an option is wrong. */
export function createHandlers(specs: readonly MetricsHandlerSpec[], limit: LabelSetLimit): MetricHandler[] {
  return specs.map((spec) => FACTORIES[spec.name]({ options: spec.options, limit }));
}

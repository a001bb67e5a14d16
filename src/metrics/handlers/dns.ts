// hubble_dns_queries_total, hubble_dns_responses_total{<context>, rcode, qtypes, ips_returned[, query]} and
// hubble_dns_response_types_total{<context>, type, qtypes[, query]}, from L7 DNS flows. A request counts as a query
// (rcode ""), a request the policy dropped as a query with rcode "Policy denied", a reply as a response with its rcode
// named as Hubble names it, and each answer record type of a reply once in response_types.
// Options: query (add the queried name as a label), ignoreAAAA (leave out flows that asked only for AAAA).
import { Verdict, type Flow } from '../../api/flow/flow.js';
import { dnsRcodeName } from '../../packet/dns.js';
import type { FlowContext } from '../context.js';
import { numberText } from '../flowNames.js';
import { BoundedCounterVec } from '../labelSets.js';
import { flagOption, handlerContext, NAMESPACE, type HandlerInit, type MetricHandler } from './handler.js';

const qtypesTexts = new WeakMap<readonly string[], string>();

/** The question types joined with ","; a single type (the usual case) without building a string. */
function qtypesText(qtypes: readonly string[]): string {
  if (qtypes.length === 0) return '';
  if (qtypes.length === 1) return qtypes[0]!;
  let text = qtypesTexts.get(qtypes);
  if (text === undefined) qtypesTexts.set(qtypes, (text = qtypes.join(',')));
  return text;
}

export class DnsHandler implements MetricHandler {
  readonly name = 'dns' as const;
  readonly vectors: readonly BoundedCounterVec[];
  private readonly queries: BoundedCounterVec;
  private readonly responses: BoundedCounterVec;
  private readonly responseTypes: BoundedCounterVec;
  private readonly context: FlowContext;
  private readonly includeQuery: boolean;
  private readonly ignoreAAAA: boolean;
  private readonly values: string[];
  private readonly typeValues: string[];
  private readonly at: number;

  constructor({ options, limit }: HandlerInit) {
    this.context = handlerContext(this.name, options, ['query', 'ignoreAAAA']);
    this.includeQuery = flagOption(this.name, options, 'query');
    this.ignoreAAAA = flagOption(this.name, options, 'ignoreAAAA');
    const contextLabels = this.context.labelNames;
    this.at = contextLabels.length;
    const query = this.includeQuery ? ['query'] : [];
    const labels = [...contextLabels, 'rcode', 'qtypes', 'ips_returned', ...query];
    const typeLabels = [...contextLabels, 'type', 'qtypes', ...query];
    this.queries = new BoundedCounterVec(
      `${NAMESPACE}_dns_queries_total`,
      'Number of DNS queries observed',
      labels,
      limit,
    );
    this.responses = new BoundedCounterVec(
      `${NAMESPACE}_dns_responses_total`,
      'Number of DNS responses observed',
      labels,
      limit,
    );
    this.responseTypes = new BoundedCounterVec(
      `${NAMESPACE}_dns_response_types_total`,
      'Number of DNS response types',
      typeLabels,
      limit,
    );
    this.vectors = [this.queries, this.responses, this.responseTypes];
    this.values = new Array<string>(labels.length).fill('');
    this.typeValues = new Array<string>(typeLabels.length).fill('');
  }

  processFlow(flow: Flow): void {
    const dns = flow.l7?.dns;
    if (dns === undefined) return;
    if (this.ignoreAAAA && dns.qtypes.length === 1 && dns.qtypes[0] === 'AAAA') return;
    const v = this.values;
    const at = this.at;
    this.context.fill(flow, v, 0);
    const qtypes = qtypesText(dns.qtypes);
    v[at + 1] = qtypes;
    v[at + 2] = numberText(dns.ips.length);
    if (this.includeQuery) v[at + 3] = dns.query;
    if (flow.verdict === Verdict.DROPPED) {
      v[at] = 'Policy denied';
      this.queries.inc(v);
    } else if (flow.isReply !== true) {
      // A flow not known to be a reply counts as a request, as in Hubble.
      v[at] = '';
      this.queries.inc(v);
    } else {
      v[at] = dnsRcodeName(dns.rcode);
      this.responses.inc(v);
      if (dns.rrtypes.length === 0) return;
      const t = this.typeValues;
      for (let i = 0; i < at; i++) t[i] = v[i]!;
      t[at + 1] = qtypes;
      if (this.includeQuery) t[at + 2] = dns.query;
      for (const rrtype of dns.rrtypes) {
        t[at] = rrtype;
        this.responseTypes.inc(t);
      }
    }
  }
}

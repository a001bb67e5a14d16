// The endpoint inventory (`--endpoints FILE`): a hand-written YAML file saying which addresses belong to which
// pods and which addresses are service frontends, validated into frozen Hubble Endpoint and Service objects.
//
// Shape (test/fixtures/endpoints.yaml is a commented example):
//
//   dualStack: false              # optional; true: unclaimed addresses are reserved:world-ipv4 / world-ipv6
//   endpoints:
//     - cidrs: [10.0.1.15, "fd00::15", 10.0.2.0/24]   # addresses or CIDRs (a list, or one); longest prefix wins
//       namespace: shop                                # optional
//       pod: frontend-7d4b9c-x2k1p                      # optional; needs a namespace
//       labels: {app: frontend, tier: web}              # or a list: ["app=frontend", "container:tier=web"]
//       serviceAccount: frontend                        # optional
//       workload: {kind: Deployment, name: frontend}    # optional
//       identity: 12345                                 # optional; else derived from the labels
//       cluster: prod                                   # optional; default --cluster-name
//       id: 1234                                        # optional datapath endpoint id, 1..65535, unique
//   services:
//     - name: frontend
//       namespace: shop
//       frontends: ["10.96.0.10:80", "[fd00::a]:80", "10.96.0.11"]   # a bare address: every port
//
// What Hubble will print:
// - labels as Cilium does: "k8s:app=frontend" (source k8s unless the key says "source:key"; a label with an
//   empty value prints as "k8s:key"), sorted. An endpoint with a namespace also gets the labels Cilium gives every
//   pod: k8s:io.kubernetes.pod.namespace=<namespace> and k8s:io.cilium.k8s.policy.cluster=<cluster>, plus
//   k8s:io.cilium.k8s.policy.serviceaccount=<serviceAccount> when given.
// - identity: the given one, else one derived from the label set — the same labels always get the same number
//   (the one given explicitly to another entry with those labels, or a hash folded into Cilium's allocation range
//   256..65535; a collision between two label sets moves the one that sorts later to the next free number).
//
// Mistakes are ConfigErrors naming the file, line and entry (e.g. `endpoints[2].cidrs[0]`) and what is wrong:
// unknown keys, bad addresses or CIDRs (including host bits set), the same CIDR twice, labels that are not
// key=value, duplicate endpoint ids or service frontends, out-of-range numbers.
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, type Node, type Scalar, type YAMLMap } from 'yaml';
import type { Endpoint, Service, Workload } from '../../api/flow/flow.js';
import { canonicalIp, formatIP, ParsedAddr, parseAddrInto, Prefix } from '../../packet/ipAddress.js';
import { ConfigError } from '../../server/config.js';
import { describeNode, describeReadError, YamlFileReader } from '../../server/yamlFile.js';
import {
  formatLabel,
  makeLabel,
  MAX_ALLOCATED_IDENTITY,
  MIN_ALLOCATED_IDENTITY,
  parseLabelText,
  preferredIdentity,
  type Label,
} from './labels.js';
import { sharedMessage } from '../../protowire/compiledEncoder.js';

export interface InventoryEndpoint {
  /** The addresses and CIDRs this endpoint owns (canonical, host bits clear). */
  readonly prefixes: readonly Prefix[];
  /** Shared by every flow that touches these addresses; frozen. */
  readonly endpoint: Readonly<Endpoint>;
}

export interface ServiceFrontend {
  /** Canonical address text. */
  readonly ip: string;
  /** undefined: every port. */
  readonly port: number | undefined;
}

export interface InventoryService {
  readonly service: Readonly<Service>;
  readonly frontends: readonly ServiceFrontend[];
}

export interface Inventory {
  readonly endpoints: readonly InventoryEndpoint[];
  readonly services: readonly InventoryService[];
  readonly dualStack: boolean;
}

export const EMPTY_INVENTORY: Inventory = Object.freeze({ endpoints: [], services: [], dualStack: false });

/** Reads and validates an inventory file; every problem is a ConfigError that says where and what. */
export function readInventory(path: string, clusterName: string): Inventory {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`--endpoints: cannot read endpoints file ${path}: ${describeReadError(err)}`);
  }
  return parseInventory(text, path, clusterName);
}

/** Validates inventory text; `file` only names it in errors. */
export function parseInventory(text: string, file: string, clusterName: string): Inventory {
  return new InventoryReader(file, text, clusterName).read();
}

const TOP_KEYS = ['dualStack', 'endpoints', 'services'];
const ENDPOINT_KEYS = [
  'cidrs',
  'cluster',
  'id',
  'identity',
  'labels',
  'namespace',
  'pod',
  'serviceAccount',
  'workload',
];
const WORKLOAD_KEYS = ['kind', 'name'];
const SERVICE_KEYS = ['frontends', 'name', 'namespace'];

// Kubernetes object names, namespaces, cluster names: letters, digits, '-', '_', '.', alphanumeric at both ends.
const NAME = /^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,251}[A-Za-z0-9])?$/;

const POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
const POLICY_CLUSTER_LABEL = 'io.cilium.k8s.policy.cluster';
const POLICY_SERVICE_ACCOUNT_LABEL = 'io.cilium.k8s.policy.serviceaccount';

interface EndpointDraft {
  prefixes: Prefix[];
  namespace: string;
  pod: string;
  cluster: string;
  labels: string[];
  identity: number | undefined;
  id: number;
  workloads: Workload[];
}

class InventoryReader extends YamlFileReader {
  constructor(
    file: string,
    text: string,
    private readonly clusterName: string,
  ) {
    super('endpoints file', file, text);
  }

  read(): Inventory {
    const root = this.resolve(this.doc.contents);
    if (root === null || (isScalar(root) && root.value === null)) return EMPTY_INVENTORY;
    const top = this.map(root, 'the file', 'a mapping with endpoints: and services:');
    this.checkKeys(top, 'the file', TOP_KEYS);
    let dualStack = false;
    const dualNode = this.get(top, 'dualStack');
    if (dualNode !== undefined) {
      if (!isScalar(dualNode) || typeof dualNode.value !== 'boolean')
        this.fail(dualNode, 'dualStack', 'expected true or false');
      dualStack = dualNode.value as boolean;
    }
    const endpoints = this.readEndpoints(this.get(top, 'endpoints'));
    const services = this.readServices(this.get(top, 'services'));
    return Object.freeze({ endpoints: Object.freeze(endpoints), services: Object.freeze(services), dualStack });
  }

  private readEndpoints(node: Node | undefined): InventoryEndpoint[] {
    if (node === undefined || (isScalar(node) && node.value === null)) return [];
    const list = this.seq(node, 'endpoints');
    const drafts: EndpointDraft[] = [];
    const prefixOwner = new Map<string, string>();
    const idOwner = new Map<number, string>();
    list.items.forEach((item, i) => {
      const where = `endpoints[${i}]`;
      const entry = this.resolve(item as Node);
      const draft = this.readEndpoint(entry, where); // also checks that entry is a mapping with cidrs:
      const cidrs = this.get(entry as YAMLMap, 'cidrs')!;
      draft.prefixes.forEach((prefix, j) => {
        const owner = prefixOwner.get(prefix.text);
        if (owner !== undefined)
          this.fail(this.itemAt(cidrs, j), `${where}.cidrs[${j}]`, `${prefix.text} is already claimed by ${owner}`);
        prefixOwner.set(prefix.text, `${where} (line ${this.line(cidrs)})`);
      });
      if (draft.id !== 0) {
        const owner = idOwner.get(draft.id);
        if (owner !== undefined)
          this.fail(
            this.get(entry as YAMLMap, 'id')!,
            `${where}.id`,
            `endpoint id ${draft.id} is already used by ${owner}`,
          );
        idOwner.set(draft.id, `${where} (line ${this.line(entry)})`);
      }
      drafts.push(draft);
    });
    assignIdentities(drafts);
    return drafts.map((d) => ({
      prefixes: Object.freeze(d.prefixes),
      endpoint: sharedMessage('flow.Endpoint', {
        ID: d.id,
        identity: d.identity!,
        clusterName: d.cluster,
        namespace: d.namespace,
        labels: Object.freeze(d.labels) as string[],
        podName: d.pod,
        workloads: Object.freeze(d.workloads.map((w) => Object.freeze(w))) as Workload[],
      }),
    }));
  }

  private readEndpoint(node: Node, where: string): EndpointDraft {
    const entry = this.map(node, where, 'a mapping with cidrs: and what owns them');
    this.checkKeys(entry, where, ENDPOINT_KEYS);

    const cidrsNode = this.get(entry, 'cidrs');
    if (cidrsNode === undefined)
      this.fail(entry, where, 'cidrs: is required (the addresses or CIDRs this endpoint owns)');
    const cidrItems = isSeq(cidrsNode) ? cidrsNode.items.map((n) => this.resolve(n as Node)) : [cidrsNode];
    if (cidrItems.length === 0) this.fail(cidrsNode, `${where}.cidrs`, 'list at least one address or CIDR');
    const prefixes: Prefix[] = [];
    const seen = new Set<string>();
    cidrItems.forEach((item, j) => {
      const at = isSeq(cidrsNode) ? `${where}.cidrs[${j}]` : `${where}.cidrs`;
      const text = this.string(item, at);
      const parsed = parseCidr(text);
      if ('error' in parsed) this.fail(item, at, parsed.error);
      if (seen.has(parsed.text)) this.fail(item, at, `${parsed.text} is listed twice`);
      seen.add(parsed.text);
      prefixes.push(parsed);
    });

    const cluster = this.optionalName(entry, 'cluster', where) ?? this.clusterName;
    const namespace = this.optionalName(entry, 'namespace', where) ?? '';
    const pod = this.optionalName(entry, 'pod', where) ?? '';
    if (pod !== '' && namespace === '')
      this.fail(this.get(entry, 'pod')!, `${where}.pod`, 'a pod needs a namespace: add namespace:');
    const serviceAccount = this.optionalName(entry, 'serviceAccount', where);

    const labels = this.readLabels(this.get(entry, 'labels'), `${where}.labels`);
    const implied: Label[] = [];
    if (namespace !== '') {
      implied.push(
        { source: 'k8s', key: POD_NAMESPACE_LABEL, value: namespace },
        { source: 'k8s', key: POLICY_CLUSTER_LABEL, value: cluster },
      );
    }
    if (serviceAccount !== undefined)
      implied.push({ source: 'k8s', key: POLICY_SERVICE_ACCOUNT_LABEL, value: serviceAccount });
    for (const label of implied) {
      const given = labels.get(label.key);
      if (given === undefined) labels.set(label.key, label);
      else if (given.source !== label.source || given.value !== label.value) {
        this.fail(
          this.get(entry, 'labels')!,
          `${where}.labels`,
          `${formatLabel(given)} contradicts the entry's own fields (expected ${formatLabel(label)})`,
        );
      }
    }

    let identity: number | undefined;
    const identityNode = this.get(entry, 'identity');
    if (identityNode !== undefined) identity = this.integer(identityNode, `${where}.identity`, 1, 0xffffffff);
    const idNode = this.get(entry, 'id');
    const id = idNode === undefined ? 0 : this.integer(idNode, `${where}.id`, 1, 65535);

    const workloads: Workload[] = [];
    const workloadNode = this.get(entry, 'workload');
    if (workloadNode !== undefined) {
      const w = this.map(workloadNode, `${where}.workload`, 'a mapping like {kind: Deployment, name: frontend}');
      this.checkKeys(w, `${where}.workload`, WORKLOAD_KEYS);
      const kind = this.optionalName(w, 'kind', `${where}.workload`);
      const name = this.optionalName(w, 'name', `${where}.workload`);
      if (kind === undefined || name === undefined) this.fail(w, `${where}.workload`, 'needs both kind: and name:');
      workloads.push({ kind, name });
    }

    if (namespace === '' && labels.size === 0 && identity === undefined) {
      this.fail(entry, where, 'says nothing about its addresses: give a namespace, labels or an identity');
    }
    return {
      prefixes,
      namespace,
      pod,
      cluster,
      labels: [...labels.values()].map(formatLabel).sort(),
      identity,
      id,
      workloads,
    };
  }

  /** Labels keyed by key (Cilium keeps one label per key, whatever its source). */
  private readLabels(node: Node | undefined, where: string): Map<string, Label> {
    const out = new Map<string, Label>();
    if (node === undefined || (isScalar(node) && node.value === null)) return out;
    const add = (label: Label | { error: string }, at: Node, path: string) => {
      if ('error' in label) this.fail(at, path, label.error);
      if (out.has(label.key)) this.fail(at, path, `label key "${label.key}" is given twice`);
      out.set(label.key, label);
    };
    if (isMap(node)) {
      for (const pair of node.items) {
        const keyNode = this.resolve(pair.key as Node);
        const key = this.string(keyNode, where);
        const valueNode = pair.value === null ? null : this.resolve(pair.value as Node);
        let value = '';
        if (valueNode !== null) {
          if (!isScalar(valueNode)) this.fail(valueNode, `${where}.${key}`, 'a label value must be a plain value');
          // Keep what the operator typed: version: 1.10 is "1.10", not the number 1.1.
          if (valueNode.value !== null)
            value = typeof valueNode.value === 'string' ? valueNode.value : scalarText(valueNode);
        }
        add(makeLabel(key, value), keyNode, `${where}.${key}`);
      }
      return out;
    }
    if (isSeq(node)) {
      node.items.forEach((raw, k) => {
        const item = this.resolve(raw as Node);
        add(parseLabelText(this.string(item, `${where}[${k}]`)), item, `${where}[${k}]`);
      });
      return out;
    }
    this.fail(node, where, 'expected a mapping {key: value} or a list of "key=value" strings');
  }

  private readServices(node: Node | undefined): InventoryService[] {
    if (node === undefined || (isScalar(node) && node.value === null)) return [];
    const list = this.seq(node, 'services');
    const frontendOwner = new Map<string, string>();
    return list.items.map((raw, i) => {
      const where = `services[${i}]`;
      const entry = this.map(this.resolve(raw as Node), where, 'a mapping with name:, namespace: and frontends:');
      this.checkKeys(entry, where, SERVICE_KEYS);
      const name = this.optionalName(entry, 'name', where);
      const namespace = this.optionalName(entry, 'namespace', where);
      if (name === undefined || namespace === undefined) this.fail(entry, where, 'needs name: and namespace:');
      const frontendsNode = this.get(entry, 'frontends');
      if (frontendsNode === undefined) this.fail(entry, where, 'frontends: is required (e.g. ["10.96.0.10:80"])');
      const items = this.seq(frontendsNode, `${where}.frontends`).items.map((n) => this.resolve(n as Node));
      if (items.length === 0) this.fail(frontendsNode, `${where}.frontends`, 'list at least one frontend');
      const frontends = items.map((item, j) => {
        const at = `${where}.frontends[${j}]`;
        const text = this.string(item, at);
        const parsed = parseFrontend(text);
        if ('error' in parsed) this.fail(item, at, parsed.error);
        const key = `${parsed.ip} port ${parsed.port ?? 'any'}`;
        const owner = frontendOwner.get(key);
        if (owner !== undefined) this.fail(item, at, `"${text}" is already a frontend of ${owner}`);
        frontendOwner.set(key, `${where} ${namespace}/${name} (line ${this.line(item)})`);
        return Object.freeze(parsed);
      });
      return Object.freeze({ service: Object.freeze({ name, namespace }), frontends: Object.freeze(frontends) });
    });
  }

  // --- YAML node helpers: each failure names the line and the path inside the file.

  private map(node: Node | null, where: string, expected = 'a mapping'): YAMLMap {
    if (node === null || !isMap(node)) this.fail(node, where, `expected ${expected}`);
    return node;
  }

  private seq(node: Node, where: string) {
    if (!isSeq(node)) this.fail(node, where, 'expected a list');
    return node;
  }

  private string(node: Node | null, where: string): string {
    if (node === null || !isScalar(node) || typeof node.value !== 'string') {
      this.fail(node, where, `expected a string, got ${describeNode(node)}`);
    }
    return node.value as string;
  }

  private optionalName(map: YAMLMap, key: string, where: string): string | undefined {
    const node = this.get(map, key);
    if (node === undefined) return undefined;
    if (!isScalar(node) || (typeof node.value !== 'string' && typeof node.value !== 'number')) {
      this.fail(node, `${where}.${key}`, `expected a name, got ${describeNode(node)}`);
    }
    const text = typeof node.value === 'string' ? node.value : scalarText(node);
    if (!NAME.test(text)) {
      this.fail(
        node,
        `${where}.${key}`,
        `"${text}" is not a valid name (letters, digits, "-", "_", "."; alphanumeric at both ends)`,
      );
    }
    return text;
  }

  private integer(node: Node, where: string, min: number, max: number): number {
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      this.fail(node, where, `expected an integer from ${min} to ${max}, got ${describeNode(node)}`);
    }
    return v;
  }

  private itemAt(node: Node, index: number): Node {
    return isSeq(node) ? this.resolve(node.items[index] as Node) : node;
  }
}

function scalarText(node: Scalar): string {
  return node.source ?? String(node.value);
}

/**
 * An entry of cidrs: an address ("10.0.1.15", "fd00::15", read as /32 or /128) or a CIDR ("10.0.0.0/8"), by Go's
 * netip rules. A CIDR with host bits set is refused as a likely typo, and the message says which two things were meant.
 */
export function parseCidr(text: string): Prefix | { error: string } {
  const slash = text.indexOf('/');
  const addr = new ParsedAddr();
  if (parseAddrInto(text, addr, 0, slash < 0 ? text.length : slash) !== undefined || addr.zoned) {
    return { error: `"${text}" is not an IP address or CIDR` };
  }
  const max = addr.family === 4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const lengthText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lengthText) || Number(lengthText) > max) {
      return { error: `"${text}" has an invalid prefix length (0 to ${max} for IPv${addr.family})` };
    }
    bits = Number(lengthText);
  }
  const prefix = new Prefix(addr, bits);
  const address = formatIP(addr.bytes, 0, addr.family);
  if (prefix.text !== `${address}/${bits}`) {
    const one = `${address}/${max}`;
    return { error: `"${text}" has host bits set: write ${prefix.text} for the network or ${one} for the one address` };
  }
  return prefix;
}

/**
 * "10.96.0.10:80", "[fd00::a]:80", or a bare address ("10.96.0.11", "fd00::b") for every port. An IPv6 address
 * with a port must be bracketed: "fd00::a:80" is itself a valid IPv6 address and is read as one.
 */
export function parseFrontend(text: string): ServiceFrontend | { error: string } {
  let host = text;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return { error: `"${text}" should be [IPv6]:port` };
    host = text.slice(1, close);
    portText = text.slice(close + 2);
  } else if (canonicalIp(text) === undefined) {
    const colon = text.lastIndexOf(':');
    if (colon > 0 && text.indexOf(':') === colon) {
      host = text.slice(0, colon);
      portText = text.slice(colon + 1);
    }
  }
  const ip = canonicalIp(host);
  if (ip === undefined) return { error: `"${text}" is not IP:port, [IPv6]:port or an IP address` };
  if (portText === undefined) return { ip, port: undefined };
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    return { error: `"${text}" has an invalid port (1 to 65535)` };
  }
  return { ip, port: Number(portText) };
}

/**
 * Gives every draft without an explicit identity the identity of its label set: the explicit identity another
 * entry gave the same labels, else the hash of the labels, probing upward past numbers already taken. Label sets
 * are visited in sorted order so the outcome depends only on the file's content, not its entry order.
 */
function assignIdentities(drafts: EndpointDraft[]): void {
  const taken = new Set<number>();
  const byLabels = new Map<string, number>();
  for (const d of drafts) {
    if (d.identity === undefined) continue;
    taken.add(d.identity);
    const key = d.labels.join('\n');
    if (!byLabels.has(key)) byLabels.set(key, d.identity);
  }
  const pending = new Map<string, EndpointDraft[]>();
  for (const d of drafts) {
    if (d.identity !== undefined) continue;
    const key = d.labels.join('\n');
    const list = pending.get(key);
    if (list) list.push(d);
    else pending.set(key, [d]);
  }
  for (const key of [...pending.keys()].sort()) {
    const group = pending.get(key)!;
    let identity = byLabels.get(key);
    if (identity === undefined) {
      identity = preferredIdentity(group[0]!.labels);
      for (let probes = 0; taken.has(identity); probes++) {
        if (probes > MAX_ALLOCATED_IDENTITY)
          throw new ConfigError('endpoints file: more label sets than identities to give them');
        identity = identity === MAX_ALLOCATED_IDENTITY ? MIN_ALLOCATED_IDENTITY : identity + 1;
      }
      taken.add(identity);
    }
    for (const d of group) d.identity = identity;
  }
}

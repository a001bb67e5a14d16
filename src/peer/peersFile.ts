// The peers file (`--peers-file`): other hubble-ts nodes written down by hand, validated into Peers. Every mistake is a
// ConfigError naming the file, the line and the entry, and saying what is wrong. Shape:
//
//   peers:
//     - name: alpha                     # node name, unique; "cluster/node" outside the default cluster
//       address: 10.0.0.1:4244          # its Observer API: HOST:PORT ([v6]:PORT), or unix:///path on this host
//       tls-server-name: alpha.default.hubble-grpc.cilium.io   # optional: dial it with TLS, verifying this name
//
// `peers: []` (or `peers:` with nothing) is a valid file with no peers; an empty file is not, so a file caught
// half-written is refused rather than read as "every peer is gone".
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from 'yaml';
import { describeNode, YamlFileReader } from '../server/yamlFile.js';
import { isDnsName, joinHostPort, parseHostPort } from './address.js';
import type { Peer } from './source.js';

const TOP_KEYS = ['peers'];
const PEER_KEYS = ['name', 'address', 'tls-server-name'];

// Node names as Kubernetes and hosts write them; an optional "cluster/" prefix, as Hubble names peers.
const NAME_PART = '[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,251}[A-Za-z0-9])?';
const PEER_NAME = new RegExp(`^(?:${NAME_PART}/)?${NAME_PART}$`);

/** Validates peers file text; `file` only names it in errors. */
export function parsePeersFile(text: string, file: string): Peer[] {
  return new PeersFileReader(file, text).read();
}

class PeersFileReader extends YamlFileReader {
  constructor(file: string, text: string) {
    super('peers file', file, text);
  }

  read(): Peer[] {
    const root = this.doc.contents as Node | null;
    if (root === null || !isMap(root)) {
      this.fail(root, 'the file', 'expected a mapping with "peers:" (write "peers: []" for no peers)');
    }
    this.checkKeys(root, 'the file', TOP_KEYS);
    const list = this.get(root, 'peers');
    if (list === undefined) this.fail(root, 'the file', 'expected "peers:" (write "peers: []" for no peers)');
    if (isScalar(list) && list.value === null) return [];
    if (!isSeq(list)) this.fail(list, 'peers', 'expected a list of peers');
    const peers: Peer[] = [];
    const lineOfName = new Map<string, number>();
    list.items.forEach((item, i) => {
      const where = `peers[${i}]`;
      const entry = item as Node | null;
      if (entry === null || !isMap(entry)) {
        this.fail(entry, where, 'expected a mapping with name: and address:');
      }
      this.checkKeys(entry, where, PEER_KEYS);
      const nameNode = this.required(entry, 'name', where);
      const name = this.text(nameNode, `${where}.name`);
      if (!PEER_NAME.test(name)) {
        this.fail(
          nameNode,
          `${where}.name`,
          `"${name}" is not a node name (letters, digits, "-", "_", "."; optionally "cluster/" before it)`,
        );
      }
      const first = lineOfName.get(name);
      if (first !== undefined)
        this.fail(nameNode, `${where}.name`, `"${name}" is already the name of the peer on line ${first}`);
      lineOfName.set(name, this.line(nameNode));

      const addressNode = this.required(entry, 'address', where);
      const address = this.address(addressNode, `${where}.address`);

      const tlsNode = this.get(entry, 'tls-server-name');
      let tlsServerName: string | undefined;
      if (tlsNode !== undefined) {
        tlsServerName = this.text(tlsNode, `${where}.tls-server-name`);
        if (!isDnsName(tlsServerName)) {
          this.fail(tlsNode, `${where}.tls-server-name`, `"${tlsServerName}" is not a DNS name`);
        }
      }
      peers.push(tlsServerName === undefined ? { name, address } : { name, address, tlsServerName });
    });
    return peers;
  }

  private address(node: Node, where: string): string {
    const text = this.text(node, where);
    if (text.startsWith('unix://')) {
      if (!text.startsWith('unix:///') || text.length === 'unix:///'.length) {
        this.fail(node, where, `"${text}" is not unix:///absolute/path`);
      }
      return text;
    }
    const parsed = parseHostPort(text);
    if ('error' in parsed) this.fail(node, where, `${parsed.error}; expected HOST:PORT, e.g. 10.0.0.1:4244`);
    // Canonical text, as upstream writes addresses: reformatting the file changes nothing.
    return joinHostPort(parsed.host, parsed.port!);
  }

  private required(map: YAMLMap, key: string, where: string): Node {
    const node = this.get(map, key);
    if (node === undefined) this.fail(map, where, `missing "${key}:"`);
    return node;
  }

  /** A scalar's text: strings as they are, numbers as written (a host named 0123 stays "0123"). */
  private text(node: Node, where: string): string {
    if (isScalar(node) && typeof node.value === 'string' && node.value.trim() !== '') return node.value.trim();
    if (isScalar(node) && typeof node.value === 'number') return node.source ?? String(node.value);
    this.fail(node, where, `expected text, got ${describeNode(node)}`);
  }
}

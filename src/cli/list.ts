// `hubble-ts list nodes|namespaces`: GetNodes and GetNamespaces printed as hubble's list
// command prints them (a table, or indented JSON of the messages).
import { Command, Option } from 'commander';
import * as grpc from '@grpc/grpc-js';
import {
  Namespace as NamespaceMessage,
  Node as NodeMessage,
  type Namespace,
  type Node,
} from '../api/observer/observer.js';
import { goJsonEscape, messageToJson, type MessageEncoder } from '../protojson/protojson.js';
import { NodeState } from '../api/relay/relay.js';
import { addConnectionOptions, CliError, unaryCall, withConnection } from './client.js';
import { PROCESS_IO, type CliIo } from './observe.js';
import { goDuration } from './status.js';
import { TabWriter } from './tabWriter.js';

const NOT_AVAILABLE = 'N/A';

function nodeStateTitle(state: NodeState): string {
  switch (state) {
    case NodeState.NODE_CONNECTED:
      return 'Connected';
    case NodeState.NODE_UNAVAILABLE:
      return 'Unavailable';
    case NodeState.NODE_GONE:
      return 'Gone';
    case NodeState.NODE_ERROR:
      return 'Error';
    default:
      return 'Unknown';
  }
}

/** The nodes table; `wide` adds version, address and TLS columns. */
export function formatNodesTable(nodes: readonly Node[], wide: boolean): string {
  let text = '';
  const tw = new TabWriter({ write: (s: string) => (text += s) });
  tw.write(`NAME\tSTATUS\tAGE\tFLOWS/S\tCURRENT/MAX-FLOWS${wide ? '\tVERSION\tADDRESS\tTLS' : ''}\n`);
  for (const n of nodes) {
    let age = NOT_AVAILABLE;
    let flowsPerSec = NOT_AVAILABLE;
    const uptimeSeconds = Math.round(n.uptimeNs / 1e9);
    if (uptimeSeconds > 0) {
      age = goDuration(uptimeSeconds * 1e9);
      flowsPerSec = (n.seenFlows / uptimeSeconds).toFixed(2);
    }
    const ratio =
      n.maxFlows > 0
        ? `${n.numFlows}/${n.maxFlows} (${((n.numFlows / n.maxFlows) * 100).toFixed(2).padStart(6, ' ')}%)`
        : NOT_AVAILABLE;
    let row = `${n.name}\t${nodeStateTitle(n.state)}\t${age}\t${flowsPerSec}\t${ratio}`;
    if (wide) {
      const tls = n.tls === undefined ? NOT_AVAILABLE : n.tls.enabled ? 'Enabled' : 'Disabled';
      row += `\t${n.version === '' ? NOT_AVAILABLE : n.version}\t${n.address}\t${tls}`;
    }
    tw.write(`${row}\n`);
  }
  tw.flush();
  return text;
}

/**
 * A list as hubble's `-o json` prints it: Go's json.MarshalIndent over the messages, whose generated MarshalJSON is
 * protojson with proto field names (enums by name, 64-bit counters as strings, zero values left out), re-indented
 * by two spaces with <, > and & escaped; an empty list is Go's nil slice, `null`.
 */
function formatListJson<T>(encoder: MessageEncoder<T>, typeName: string, items: readonly T[]): string {
  if (items.length === 0) return 'null\n';
  const json = JSON.stringify(
    items.map((item) => messageToJson(encoder, typeName, item)),
    null,
    2,
  );
  return `${goJsonEscape(json)}\n`;
}

export function formatNodesJson(nodes: readonly Node[]): string {
  return formatListJson(NodeMessage, 'observer.Node', nodes);
}

export function formatNamespacesJson(namespaces: readonly Namespace[]): string {
  return formatListJson(NamespaceMessage, 'observer.Namespace', namespaces);
}

/** The namespaces table; `wide` adds the cluster column. */
export function formatNamespacesTable(namespaces: readonly Namespace[], wide: boolean): string {
  let text = '';
  const tw = new TabWriter({ write: (s: string) => (text += s) });
  tw.write(wide ? 'NAMESPACE\tCLUSTER\n' : 'NAMESPACE\n');
  for (const ns of namespaces)
    tw.write(wide && ns.cluster !== '' ? `${ns.namespace}\t${ns.cluster}\n` : `${ns.namespace}\n`);
  tw.flush();
  return text;
}

export function listCommand(io: CliIo = PROCESS_IO): Command {
  const list = new Command('list').description('list Hubble objects');

  const nodes = new Command('nodes')
    .alias('node')
    .description('list Hubble nodes')
    .addOption(new Option('-o, --output <FORMAT>', 'output format: json, table, wide').default('table'));
  addConnectionOptions(nodes).action(async (_opts: unknown, self: Command) => {
    const opts = self.opts();
    const output = String(opts['output']);
    if (!['json', 'table', 'wide'].includes(output)) throw new CliError(`unknown output format: ${output}`);
    await withConnection(opts, async (conn) => {
      const res = await unaryCall<{ nodes: Node[] }>(conn, 'GetNodes', (cb) =>
        conn.observer.getNodes({}, new grpc.Metadata(), { deadline: conn.unaryDeadline() }, cb),
      );
      const sorted = [...res.nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      io.stdout.write(output === 'json' ? formatNodesJson(sorted) : formatNodesTable(sorted, output === 'wide'));
    });
  });

  const namespaces = new Command('namespaces')
    .description('list namespaces with recent flows')
    .addOption(new Option('-o, --output <FORMAT>', 'output format: json, table, wide').default('table'));
  addConnectionOptions(namespaces).action(async (_opts: unknown, self: Command) => {
    const opts = self.opts();
    const output = String(opts['output']);
    if (!['json', 'table', 'wide'].includes(output)) throw new CliError(`unknown output format: ${output}`);
    await withConnection(opts, async (conn) => {
      const res = await unaryCall<{ namespaces: Namespace[] }>(conn, 'GetNamespaces', (cb) =>
        conn.observer.getNamespaces({}, new grpc.Metadata(), { deadline: conn.unaryDeadline() }, cb),
      );
      io.stdout.write(
        output === 'json'
          ? formatNamespacesJson(res.namespaces)
          : formatNamespacesTable(res.namespaces, output === 'wide'),
      );
    });
  });

  return list.addCommand(nodes).addCommand(namespaces);
}

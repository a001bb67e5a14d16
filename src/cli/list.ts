// `hubble-ts list nodes|namespaces`: GetNodes and GetNamespaces printed as hubble's list
// command prints them (a table, or indented JSON of the messages).
import { Command, Option } from 'commander';
import * as grpc from '@grpc/grpc-js';
import type { Namespace, Node } from '../api/observer/observer.js';
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
 * Nodes as hubble's `-o json` prints them: Go's encoding/json over the generated structs, so
 * proto field names, zero values left out, enums and 64-bit counters as plain numbers.
 */
export function formatNodesJson(nodes: readonly Node[]): string {
  const out = nodes.map((n) => {
    const o: Record<string, unknown> = {};
    if (n.name !== '') o['name'] = n.name;
    if (n.version !== '') o['version'] = n.version;
    if (n.address !== '') o['address'] = n.address;
    if (n.state !== 0) o['state'] = n.state;
    if (n.tls !== undefined) {
      const tls: Record<string, unknown> = {};
      if (n.tls.enabled) tls['enabled'] = true;
      if (n.tls.serverName !== '') tls['server_name'] = n.tls.serverName;
      o['tls'] = tls;
    }
    if (n.uptimeNs !== 0) o['uptime_ns'] = n.uptimeNs;
    if (n.numFlows !== 0) o['num_flows'] = n.numFlows;
    if (n.maxFlows !== 0) o['max_flows'] = n.maxFlows;
    if (n.seenFlows !== 0) o['seen_flows'] = n.seenFlows;
    return o;
  });
  return `${JSON.stringify(out, null, 2)}\n`;
}

export function formatNamespacesTable(namespaces: readonly Namespace[]): string {
  let text = '';
  const tw = new TabWriter({ write: (s: string) => (text += s) });
  tw.write('NAMESPACE\n');
  for (const ns of namespaces) tw.write(`${ns.namespace}\n`);
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
    .addOption(new Option('-o, --output <FORMAT>', 'output format: json, table').default('table'));
  addConnectionOptions(namespaces).action(async (_opts: unknown, self: Command) => {
    const opts = self.opts();
    const output = String(opts['output']);
    if (!['json', 'table'].includes(output)) throw new CliError(`unknown output format: ${output}`);
    await withConnection(opts, async (conn) => {
      const res = await unaryCall<{ namespaces: Namespace[] }>(conn, 'GetNamespaces', (cb) =>
        conn.observer.getNamespaces({}, new grpc.Metadata(), { deadline: conn.unaryDeadline() }, cb),
      );
      io.stdout.write(
        output === 'json'
          ? `${JSON.stringify(
              res.namespaces.map((n) => ({
                ...(n.cluster ? { cluster: n.cluster } : {}),
                ...(n.namespace ? { namespace: n.namespace } : {}),
              })),
              null,
              2,
            )}\n`
          : formatNamespacesTable(res.namespaces),
      );
    });
  });

  return list.addCommand(nodes).addCommand(namespaces);
}

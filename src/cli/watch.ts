// `hubble-ts watch peers`: the Peer service's change notifications, one line each as `hubble watch peers` prints
// them, until the server ends the stream or the user interrupts.
import { Command } from 'commander';
import * as grpc from '@grpc/grpc-js';
import { ChangeNotificationType, type ChangeNotification } from '../api/peer/peer.js';
import { addConnectionOptions, CliError, describeCallError, isServiceError, withConnection } from './client.js';
import { PROCESS_IO, type CliIo } from './observe.js';
import { escapeControl } from './terminalText.js';

/** One notification: type padded to 12 (Go's %-12s), address, name, and the TLS server name when there is one. */
export function formatPeerChange(change: ChangeNotification): string {
  const type = ChangeNotificationType[change.type] ?? String(change.type);
  const tls = change.tls === undefined ? '' : ` (TLS.ServerName: ${change.tls.serverName})`;
  return escapeControl(`${type.padEnd(12)} ${change.address} ${change.name}${tls}`) + '\n';
}

export function watchCommand(io: CliIo = PROCESS_IO): Command {
  const watch = new Command('watch').description('watch Hubble objects');
  const peers = new Command('peers').alias('peer').description('watch for Hubble peers updates');
  addConnectionOptions(peers).action(async (_opts: unknown, self: Command) => {
    await withConnection(self.opts(), async (conn) => {
      const interrupted = new AbortController();
      const onSigint = (): void => interrupted.abort();
      if (io.signal === undefined) process.once('SIGINT', onSigint);
      io.signal?.addEventListener('abort', onSigint, { once: true });
      try {
        await new Promise<void>((resolve, reject) => {
          const call = conn.peer().notify({});
          interrupted.signal.addEventListener('abort', () => call.cancel(), { once: true });
          call.on('data', (change: ChangeNotification) => io.stdout.write(formatPeerChange(change)));
          call.on('end', () => resolve());
          call.on('error', (err: Error) => {
            if (isServiceError(err) && err.code === grpc.status.CANCELLED && interrupted.signal.aborted) resolve();
            else reject(new CliError(describeCallError(err, conn.server, 'Notify', conn.tls)));
          });
        });
      } finally {
        process.removeListener('SIGINT', onSigint);
        io.signal?.removeEventListener('abort', onSigint);
      }
    });
  });
  return watch.addCommand(peers);
}

// `hubble-ts observe agent-events` and `observe debug-events`: GetAgentEvents and GetDebugEvents with hubble's
// selector and format flags, printed as hubble prints them, until the stream ends or Ctrl-C.
import { Command } from 'commander';
import * as grpc from '@grpc/grpc-js';
import {
  GetAgentEventsRequest,
  GetDebugEventsRequest,
  type GetAgentEventsResponse,
  type GetDebugEventsResponse,
} from '../api/observer/observer.js';
import {
  addConnectionOptions,
  CliError,
  connectionOptionsFrom,
  describeCallError,
  HubbleConnection,
  isServiceError,
} from './client.js';
import { EventPrinter } from './eventPrinter.js';
import type { CliIo } from './observe.js';
import {
  addFormatOptions,
  addSelectorOptions,
  DEFAULT_EVENT_COUNT,
  planFormat,
  planSelection,
} from './observeOptions.js';

export type EventsKind = 'agent-events' | 'debug-events';

export function eventsCommand(kind: EventsKind, io: CliIo): Command {
  const what = kind === 'agent-events' ? 'agent events' : 'debug events';
  const cmd = addFormatOptions(
    addSelectorOptions(new Command(kind).description(`observe Cilium ${what}`), what, `default ${DEFAULT_EVENT_COUNT}`),
  );
  addConnectionOptions(cmd);
  return cmd.action(async (_opts: unknown, self: Command) => {
    const opts = self.opts();
    const selection = planSelection(opts, new Date(), true);
    const format = planFormat(opts);
    const printer = new EventPrinter({ ...format, out: io.stdout, nodeName: opts['printNodeName'] === true });
    const conn = HubbleConnection.open(connectionOptionsFrom(opts));
    const interrupted = new AbortController();
    const onSigint = (): void => interrupted.abort();
    if (io.signal === undefined) process.once('SIGINT', onSigint);
    io.signal?.addEventListener('abort', onSigint, { once: true });
    try {
      await conn.waitConnected(interrupted.signal);
      if (interrupted.signal.aborted) return;
      await new Promise<void>((resolve, reject) => {
        const call =
          kind === 'agent-events'
            ? conn.observer.getAgentEvents(GetAgentEventsRequest.fromPartial(selection))
            : conn.observer.getDebugEvents(GetDebugEventsRequest.fromPartial(selection));
        interrupted.signal.addEventListener('abort', () => call.cancel(), { once: true });
        call.on('data', (res: GetAgentEventsResponse | GetDebugEventsResponse) => {
          if ('agentEvent' in res) printer.writeAgentEvent(res);
          else printer.writeDebugEvent(res);
        });
        call.on('end', () => resolve());
        call.on('error', (err: Error) => {
          if (isServiceError(err) && err.code === grpc.status.CANCELLED && interrupted.signal.aborted) resolve();
          else
            reject(
              new CliError(
                describeCallError(
                  err,
                  conn.server,
                  kind === 'agent-events' ? 'GetAgentEvents' : 'GetDebugEvents',
                  conn.tls,
                ),
              ),
            );
        });
      });
    } finally {
      process.removeListener('SIGINT', onSigint);
      io.signal?.removeEventListener('abort', onSigint);
      printer.close();
      conn.close();
    }
  });
}

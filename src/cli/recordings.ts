// `hubble-ts recordings list|download|delete`: the server's recordings store. Download writes a file, or with
// `-o -` a pcap stream on stdout (with --follow it grows as the recording runs: `... | wireshark -k -i -`).
import { basename } from 'node:path';
import { Command, Option } from 'commander';
import * as grpc from '@grpc/grpc-js';
import {
  DeleteRequest,
  DownloadRequest,
  ListRequest,
  Recording as RecordingFns,
  type DeleteResponse,
  type ListResponse,
  type Recording,
} from '../api/hubblets/recordings/v1/recordings.js';
import { goJsonLine, messageToJson } from '../protojson/protojson.js';
import { addConnectionOptions, CliError, unaryCall, withConnection, isServiceError } from './client.js';
import { PROCESS_IO, type CliIo } from './observe.js';
import { formatRecordingStatistics, formatResponseTime } from './record.js';
import { describeStoreError, openDestination, runDownload } from './recordingDownload.js';
import { TabWriter } from './tabWriter.js';

/** 1536 -> "1.5KiB", as people read sizes. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes}B` : `${value < 10 ? value.toFixed(1) : Math.round(value)}${units[unit]}`;
}

export function formatRecordingsTable(recordings: readonly Recording[]): string {
  let text = '';
  const tw = new TabWriter({ write: (s: string) => (text += s) });
  tw.write('NAME\tSIZE\tCREATED\tSTATE\tSTATISTICS\n');
  for (const r of recordings) {
    const stats = r.stats === undefined ? 'N/A' : formatRecordingStatistics(r.stats);
    tw.write(
      `${r.name}\t${formatSize(r.size)}\t${formatResponseTime(r.created)}\t${r.running ? 'running' : 'done'}\t${stats}\n`,
    );
  }
  tw.flush();
  return text;
}

export function recordingsCommand(io: CliIo = PROCESS_IO): Command {
  const recordings = new Command('recordings').description('list, download and delete recordings on the server');

  const list = new Command('list')
    .description('list the recordings stored on the server, oldest first')
    .addOption(new Option('-o, --output <FORMAT>', 'output format: table, json').default('table'));
  addConnectionOptions(list).action(async (_opts: unknown, self: Command) => {
    const opts = self.opts();
    const output = String(opts['output']);
    if (!['json', 'table'].includes(output)) throw new CliError(`unknown output format: ${output}`);
    await withConnection(opts, async (conn) => {
      const res = await unaryCall<ListResponse>(
        conn,
        'List',
        (cb) =>
          conn
            .recordings()
            .list(ListRequest.fromPartial({}), new grpc.Metadata(), { deadline: conn.unaryDeadline() }, cb),
        describeStoreError,
      );
      if (output === 'json') {
        for (const r of res.recordings)
          io.stdout.write(goJsonLine(messageToJson(RecordingFns, 'hubblets.recordings.v1.Recording', r)));
      } else {
        io.stdout.write(formatRecordingsTable(res.recordings));
      }
    });
  });

  const download = new Command('download')
    .description('download a recording (a pcap file); -o - writes it to stdout, e.g. for `| wireshark -k -i -`')
    .argument('<NAME>', 'the recording, as `recordings list` shows it')
    .option('-o, --output <FILE>', 'where to write it: a new file, or - for stdout (default: NAME here)')
    .option('-f, --follow', 'keep streaming while the recording runs; end when it stops', false);
  addConnectionOptions(download).action(async (name: string, _opts: unknown, self: Command) => {
    const opts = self.opts();
    const output = (opts['output'] as string | undefined) ?? name;
    // The default file is named after the recording, here: never a path the name could point elsewhere.
    if (opts['output'] === undefined && basename(name) !== name) {
      throw new CliError(`${JSON.stringify(name)} is not a recording name (give -o FILE to choose where it goes)`);
    }
    await withConnection(opts, async (conn) => {
      const dest = openDestination(output, io);
      await runDownload(conn, DownloadRequest.fromPartial({ name, follow: opts['follow'] === true }), dest, io);
      if (output !== '-') io.stderr.write(`wrote ${output}\n`);
    });
  });

  const remove = new Command('delete')
    .description('delete a recording from the server')
    .argument('<NAME>', 'the recording, as `recordings list` shows it')
    .option('--stop', 'stop the recording first if it is still running', false);
  addConnectionOptions(remove).action(async (name: string, _opts: unknown, self: Command) => {
    const opts = self.opts();
    await withConnection(opts, async (conn) => {
      const res = await unaryCall<DeleteResponse>(
        conn,
        'Delete',
        (cb) =>
          conn
            .recordings()
            .delete(
              DeleteRequest.fromPartial({ name, stopIfRunning: opts['stop'] === true }),
              new grpc.Metadata(),
              { deadline: conn.unaryDeadline() },
              cb,
            ),
        (err, server, what) =>
          // The store's own words name the API field; a person at the prompt has --stop.
          isServiceError(err) && err.code === grpc.status.FAILED_PRECONDITION && opts['stop'] !== true
            ? `recording ${JSON.stringify(name)} is still running: stop it first, or delete it with --stop`
            : describeStoreError(err, server, what),
      );
      io.stdout.write(`deleted ${name}${res.stopped ? ' (stopped it first)' : ''}\n`);
    });
  });

  return recordings.addCommand(list).addCommand(download).addCommand(remove);
}

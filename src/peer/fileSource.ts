// The peers file as a peer source: read at start (a bad file stops `serve`), then re-read whenever it changes and
// diffed against the last good content, so an edit yields exactly the ADDED/UPDATED/DELETED it made. A bad edit is
// logged and the last good peers stay until the next good one.
//
// Change detection: fs.watch on the file's directory, filtered by name, catches in-place writes and editors that
// replace the file by rename (vim, sed -i, atomic writers), which a watch on the file itself would lose. A periodic
// stat catches what watching misses (network file systems, a symlink swapped as Kubernetes ConfigMaps do, a watch
// that failed). Both only schedule a re-read after a short quiet period, so a burst of writes is read once.
import { readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from '../server/config.js';
import { describeReadError } from '../server/yamlFile.js';
import { parsePeersFile } from './peersFile.js';
import { applyChanges, diffPeers, type Peer, type PeerSink, type PeerSource } from './source.js';

export const DEFAULT_PEERS_FILE_DEBOUNCE_MS = 200;
export const DEFAULT_PEERS_FILE_POLL_MS = 5_000;

export interface PeersFileSourceOptions {
  logger?: Logger | undefined;
  /** Quiet time after a change before the file is read (default 200 ms). */
  debounceMs?: number;
  /** How often the file is stat'ed in case a change was not reported (default 5 s). */
  pollIntervalMs?: number;
}

/** What identifies one version of the file without reading it. */
function fingerprint(path: string): string {
  try {
    const s = statSync(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
  } catch {
    return 'missing';
  }
}

export class PeersFileSource implements PeerSource {
  readonly description: string;
  private readonly debounceMs: number;
  private readonly pollIntervalMs: number;
  private readonly logger: Logger | undefined;
  private sink: PeerSink | undefined;
  private current = new Map<string, Peer>();
  /** Text of the last version read, good or bad: the same text is not re-applied or re-reported. */
  private lastText: string | undefined;
  private lastFingerprint = '';
  private missingReported = false;
  private watcher: FSWatcher | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly path: string,
    opts: PeersFileSourceOptions = {},
  ) {
    this.description = `peers file ${path}`;
    this.logger = opts.logger;
    this.debounceMs = opts.debounceMs ?? DEFAULT_PEERS_FILE_DEBOUNCE_MS;
    this.pollIntervalMs = opts.pollIntervalMs ?? DEFAULT_PEERS_FILE_POLL_MS;
  }

  async start(sink: PeerSink): Promise<void> {
    this.lastFingerprint = fingerprint(this.path);
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      throw new ConfigError(`peers file ${this.path}: cannot read it: ${describeReadError(err)}`);
    }
    const peers = parsePeersFile(text, this.path);
    this.lastText = text;
    this.sink = sink;
    this.apply(peers);
    this.logger?.info({ file: this.path, peers: peers.length }, 'peers file read');
    this.watch();
    this.pollTimer = setInterval(() => this.poll(), this.pollIntervalMs);
    this.pollTimer.unref();
  }

  close(): void {
    this.closed = true;
    this.sink = undefined;
    this.watcher?.close();
    this.watcher = undefined;
    clearInterval(this.pollTimer);
    clearTimeout(this.debounceTimer);
  }

  /** The peers the file gave last time it was good. */
  peers(): Peer[] {
    return [...this.current.values()];
  }

  private watch(): void {
    const name = basename(this.path);
    try {
      // The directory, not the file: a file replaced by rename is a new inode that a watch on the old one never sees.
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, changed) => {
        if (changed === null || changed === name) this.schedule();
      });
      this.watcher.on('error', (err) => {
        this.logger?.warn(
          { file: this.path, err: err.message },
          'cannot watch the peers file directory any more; checking the file every poll interval instead',
        );
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (err) {
      this.logger?.warn(
        { file: this.path, err: (err as Error).message },
        'cannot watch the peers file directory; checking the file every poll interval instead',
      );
    }
  }

  private poll(): void {
    if (fingerprint(this.path) !== this.lastFingerprint) this.schedule();
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => this.reload(), this.debounceMs);
    this.debounceTimer.unref();
  }

  private reload(): void {
    if (this.closed) return;
    this.lastFingerprint = fingerprint(this.path);
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      // Editors may leave the name missing for a moment; the next change brings it back. Deleting the file does not
      // delete the peers: write "peers: []" for that.
      if (!this.missingReported) {
        this.logger?.warn(
          { file: this.path, err: describeReadError(err), peers: this.current.size },
          'cannot read the peers file; keeping the last good peers',
        );
        this.missingReported = true;
      }
      this.lastText = undefined;
      return;
    }
    this.missingReported = false;
    if (text === this.lastText) return;
    this.lastText = text;
    let peers: Peer[];
    try {
      peers = parsePeersFile(text, this.path);
    } catch (err) {
      // A timer is no place to throw: whatever went wrong, say it and keep serving the last good peers.
      const message = err instanceof ConfigError ? err.message : `peers file ${this.path}: ${(err as Error).message}`;
      this.logger?.error(
        { file: this.path, peers: this.current.size },
        `${message}; keeping the last good peers until the file is fixed`,
      );
      return;
    }
    const changes = this.apply(peers);
    this.logger?.info(
      {
        file: this.path,
        peers: peers.length,
        added: changes.filter((c) => c.kind === 'upsert' && c.added).length,
        updated: changes.filter((c) => c.kind === 'upsert' && !c.added).length,
        deleted: changes.filter((c) => c.kind === 'remove').length,
      },
      'peers file reloaded',
    );
  }

  private apply(peers: readonly Peer[]) {
    const changes = diffPeers(this.current, peers);
    this.current = new Map(peers.map((p) => [p.name, p]));
    if (this.sink) applyChanges(this.sink, changes);
    return changes;
  }
}

// Interface names by index, for flow.interface: names that capture sources register (pcapng interface blocks,
// libpcap) first, then this machine's links from /sys/class/net, re-read at most every few seconds when asked
// about an index nobody knows (veths come and go). A replayed capture's interfaces are not this machine's, so a
// source's registration always wins over a local link with the same index.
import { readdirSync, readFileSync } from 'node:fs';
import type { LinkGetter } from '../parser/getters.js';
import { coarseNow } from './coarseClock.js';

/** What a source is given to tell the table interface names it learns. */
export interface LinkRegistry {
  register(ifindex: number, name: string): void;
}

export interface LinkTableOptions {
  /** Where to read links from; default /sys/class/net. */
  sysClassNet?: string | undefined;
  /** Minimum time between re-reads of sysClassNet on an unknown index; default 10 s. */
  rescanMs?: number;
  /** Most names remembered; registrations beyond it are ignored (a capture file could declare any number). */
  maxLinks?: number;
  now?: () => number;
}

const MAX_NAME_LENGTH = 256;

export class LinkTable implements LinkGetter, LinkRegistry {
  private readonly registered = new Map<number, string>();
  private system = new Map<number, string>();
  private readonly sysClassNet: string;
  private readonly rescanMs: number;
  private readonly maxLinks: number;
  private readonly now: () => number;
  private nextScan = 0;

  constructor(options: LinkTableOptions = {}) {
    this.sysClassNet = options.sysClassNet ?? '/sys/class/net';
    this.rescanMs = options.rescanMs ?? 10_000;
    this.maxLinks = options.maxLinks ?? 4096;
    this.now = options.now ?? coarseNow;
    this.scan();
  }

  linkName(ifindex: number): string | undefined {
    const name = this.registered.get(ifindex) ?? this.system.get(ifindex);
    if (name !== undefined || this.now() < this.nextScan) return name;
    this.scan();
    return this.system.get(ifindex);
  }

  /** Sources call this with names they learn; a later registration for the same index replaces the name. */
  register(ifindex: number, name: string): void {
    if (!Number.isInteger(ifindex) || ifindex < 0 || ifindex > 0xffffffff) return;
    if (name === '' || name.length > MAX_NAME_LENGTH) return;
    if (!this.registered.has(ifindex) && this.registered.size >= this.maxLinks) return;
    this.registered.set(ifindex, name);
  }

  /** Names known now, registered and local. */
  get size(): number {
    let n = this.registered.size;
    for (const ifindex of this.system.keys()) if (!this.registered.has(ifindex)) n++;
    return n;
  }

  private scan(): void {
    this.nextScan = this.now() + this.rescanMs;
    let entries: string[];
    try {
      entries = readdirSync(this.sysClassNet);
    } catch {
      return; // not Linux, or /sys not mounted in this container: sources' registrations are all we have
    }
    const system = new Map<number, string>();
    for (const name of entries) {
      if (system.size >= this.maxLinks) break;
      let text: string;
      try {
        text = readFileSync(`${this.sysClassNet}/${name}/ifindex`, 'utf8');
      } catch {
        continue; // the link vanished between readdir and read, or the entry is not a link (bonding_masters)
      }
      const ifindex = Number(text.trim());
      if (Number.isInteger(ifindex) && ifindex > 0) system.set(ifindex, name);
    }
    this.system = system;
  }
}

// What the metadata says about a packet's addresses (their text, the IP and Ethernet parts, both endpoints, services
// and DNS names, the interface), remembered for recently seen address pairs: the packets of one connection ask the
// getters once, not each packet. An answer is kept for one tick of the coarse clock (at most ~0.2 s), so a change in
// the metadata (an endpoint, identity, service or link) reaches flows that late at most; the parser forgets
// everything at once when it learns DNS names itself, so a name learnt from a response is on the very next packet.

import type { Endpoint, Ethernet, IP, NetworkInterface, Service } from '../../api/flow/flow.js';
import { coarseNow } from '../metadata/coarseClock.js';

export interface FlowContext {
  readonly sourceIP: string;
  readonly destinationIP: string;
  /** The trace carried an original source address (Hubble reads that as SNAT when it picks the direction). */
  readonly snatted: boolean;
  readonly ip: IP | undefined;
  readonly ethernet: Ethernet | undefined;
  readonly source: Endpoint;
  readonly destination: Endpoint;
  readonly sourceService: Service | undefined;
  readonly destinationService: Service | undefined;
  readonly sourceNames: string[];
  readonly destinationNames: string[];
  readonly iface: NetworkInterface | undefined;
}

/**
 * Words of a key; what the parser writes there (see ThreeFourParser): 0 kind bits (IP version, encrypted, Ethernet
 * present, trace), 1 ports, 2 interface index, 3-4 the datapath's identities, 5-8 source address, 9-12 destination
 * address, 13-16 the trace's original source address, 17-19 the MAC addresses. Unused words are zero.
 */
export const CONTEXT_KEY_WORDS = 20;
const SLOTS_LOG2 = 10;
const SLOTS = 1 << SLOTS_LOG2;

/** Direct-mapped: a key that lands on a taken slot replaces what was there. Fixed memory, nothing grows. */
export class FlowContextMemo {
  /** The key of the packet at hand: the caller fills every word, then calls lookup() and, on a miss, remember(). */
  readonly key = new Uint32Array(CONTEXT_KEY_WORDS);
  private readonly keys = new Uint32Array(SLOTS * CONTEXT_KEY_WORDS);
  private readonly contexts: (FlowContext | undefined)[] = new Array<FlowContext | undefined>(SLOTS).fill(undefined);
  /** The coarse-clock tick each slot was filled in; a slot from another tick is a miss. */
  private readonly ticks = new Float64Array(SLOTS);
  private slot = 0;

  /** The context remembered for `key` in this tick, or undefined. */
  lookup(): FlowContext | undefined {
    const key = this.key;
    // The words that tell most keys apart (ports, interface, the addresses' last words) pick the slot; all compare.
    const hash = Math.imul(
      key[1]! ^ Math.imul(key[2]! ^ key[8]!, 0x85ebca6b) ^ Math.imul(key[5]! ^ key[12]!, 0xc2b2ae35) ^ key[9]!,
      0x9e3779b1,
    );
    const slot = hash >>> (32 - SLOTS_LOG2);
    this.slot = slot;
    const context = this.contexts[slot];
    if (context === undefined || this.ticks[slot] !== coarseNow()) return undefined;
    const keys = this.keys;
    const at = slot * CONTEXT_KEY_WORDS;
    for (let i = 0; i < CONTEXT_KEY_WORDS; i++) if (keys[at + i] !== key[i]) return undefined;
    return context;
  }

  /** Remembers `context` for the key of the last lookup(). */
  remember(context: FlowContext): void {
    const slot = this.slot;
    this.keys.set(this.key, slot * CONTEXT_KEY_WORDS);
    this.contexts[slot] = context;
    this.ticks[slot] = coarseNow();
  }

  forget(): void {
    this.contexts.fill(undefined);
  }
}

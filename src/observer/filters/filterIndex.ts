// One list of FlowFilters (a request's allow or deny list) as a single "does any of them match" check. A long list is
// indexed by a field each filter sets (an address, a port), so a flow meets only the filters that may pass it: a
// request naming thousands of addresses costs a flow a few lookups, not thousands of tests.
import type { Flow } from '../../api/flow/flow.js';
import { ParsedAddr, parseAddrInto } from '../../packet/ipAddress.js';
import { PrefixTable } from '../../packet/prefixTable.js';
import type { FieldFilter, FieldKeys } from './fieldFilter.js';

/** Lists shorter than this are tested filter by filter: an index pays for itself only with many. */
export const INDEXED_LIST_MIN = 16;

/** One FlowFilter of a list: its compiled fields and the check they make together. */
export interface ListedFilter<E> {
  readonly fields: readonly FieldFilter[];
  readonly matches: (event: E) => boolean;
}

/** A list's check, and about how many filter tests it makes per event at most (the unindexed ones and the lookups). */
export interface ListCheck<E> {
  readonly anyMatches: (event: E) => boolean;
  readonly tests: number;
}

/**
 * The check that any filter of `filters` matches an event. `flowOf` gives an event's flow: events without one meet
 * only the filters left out of the index, as an indexed field never passes them.
 */
export function anyOfList<E>(
  filters: readonly ListedFilter<E>[],
  flowOf: (event: E) => Flow | undefined,
): ListCheck<E> {
  if (filters.length < INDEXED_LIST_MIN)
    return { anyMatches: anyOf(filters.map((f) => f.matches)), tests: filters.length };

  // Each filter goes under its keyed field with the most distinct keys across the list: the one that spreads the
  // filters widest, so a flow's keys find few of them (5,000 filters naming one address and 5,000 ports go by port).
  const keysBy = new Map<string, Set<string | number>>();
  for (const f of filters) {
    for (const field of f.fields) {
      if (!indexable(field)) continue;
      let seen = keysBy.get(field.field);
      if (seen === undefined) keysBy.set(field.field, (seen = new Set()));
      if (field.keys.kind === 'equal') for (const v of field.keys.values) seen.add(v);
      else {
        for (const text of field.keys.exact) seen.add(text);
        for (const p of field.keys.prefixes) seen.add(p.text);
      }
    }
  }
  const spread = (field: FieldFilter) => keysBy.get(field.field)!.size;
  const indexes = new Map<string, FieldIndex>();
  const unindexed: ((event: E) => boolean)[] = [];
  filters.forEach((f, i) => {
    let best: FieldFilter | undefined;
    for (const field of f.fields) {
      if (indexable(field) && (best === undefined || spread(field) > spread(best))) best = field;
    }
    if (best?.keys === undefined) {
      unindexed.push(f.matches);
      return;
    }
    let index = indexes.get(best.field);
    if (index === undefined) {
      index = best.keys.kind === 'equal' ? new EqualIndex(best.keys.of) : new AddressIndex(best.keys.of);
      indexes.set(best.field, index);
    }
    index.add(best.keys, i);
  });

  const matchesOf = filters.map((f) => f.matches);
  const byField = [...indexes.values()];
  const anyUnindexed = anyOf(unindexed);
  let current: E | undefined;
  const anyListed = (listed: readonly number[]): boolean => {
    for (const i of listed) if (matchesOf[i]!(current!)) return true;
    return false;
  };
  return {
    anyMatches: (event) => {
      const flow = flowOf(event);
      if (flow !== undefined) {
        current = event;
        let found = false;
        for (let i = 0; i < byField.length && !found; i++) found = byField[i]!.some(flow, anyListed);
        current = undefined;
        if (found) return true;
      }
      return anyUnindexed(event);
    },
    tests: unindexed.length + byField.reduce((n, index) => n + 1 + index.largestGroup, 0),
  };
}

/** A field the index can hold: one with keys that passes no event without a flow (those meet the unindexed only). */
function indexable(field: FieldFilter): field is FieldFilter & { keys: FieldKeys } {
  return field.keys !== undefined && field.matchOtherEvent === undefined;
}

/** OR over predicates; false for none. */
function anyOf<E>(predicates: readonly ((event: E) => boolean)[]): (event: E) => boolean {
  switch (predicates.length) {
    case 0:
      return () => false;
    case 1:
      return predicates[0]!;
    default: {
      const n = predicates.length;
      return (event) => {
        for (let i = 0; i < n; i++) if (predicates[i]!(event)) return true;
        return false;
      };
    }
  }
}

/** The filters (by their place in the list) a field of theirs may pass, by the keys it passes. */
interface FieldIndex {
  add(keys: FieldKeys, filter: number): void;
  /** The most filters one key holds: what a flow with that key is tested against. */
  readonly largestGroup: number;
  /** Offers `test` the filters that may pass `flow`, a group at a time, until it says true. */
  some(flow: Flow, test: (filters: readonly number[]) => boolean): boolean;
}

/** Keys passed by equality (ports). */
class EqualIndex implements FieldIndex {
  private readonly byKey = new Map<number, number[]>();
  largestGroup = 0;

  constructor(private readonly keyOf: (flow: Flow) => number | undefined) {}

  add(keys: FieldKeys, filter: number): void {
    if (keys.kind !== 'equal') throw new TypeError('an equality index holds equality keys');
    for (const v of keys.values) this.largestGroup = Math.max(this.largestGroup, appendTo(this.byKey, v, filter));
  }

  some(flow: Flow, test: (filters: readonly number[]) => boolean): boolean {
    const key = this.keyOf(flow);
    if (key === undefined) return false;
    const listed = this.byKey.get(key);
    return listed !== undefined && test(listed);
  }
}

/** Addresses passed as written or by a prefix holding them. */
class AddressIndex implements FieldIndex {
  private readonly byText = new Map<string, number[]>();
  private readonly byPrefix = new PrefixTable<number[]>();
  private hasPrefixes = false;
  private readonly addr = new ParsedAddr();
  largestGroup = 0;

  constructor(private readonly addressOf: (flow: Flow) => string | undefined) {}

  add(keys: FieldKeys, filter: number): void {
    if (keys.kind !== 'address') throw new TypeError('an address index holds address keys');
    for (const text of keys.exact) this.largestGroup = Math.max(this.largestGroup, appendTo(this.byText, text, filter));
    for (const p of keys.prefixes) {
      this.hasPrefixes = true;
      const listed = this.byPrefix.add(p, [filter]);
      listed?.push(filter);
      this.largestGroup = Math.max(this.largestGroup, listed?.length ?? 1);
    }
  }

  some(flow: Flow, test: (filters: readonly number[]) => boolean): boolean {
    const text = this.addressOf(flow);
    if (text === undefined || text === '') return false;
    const listed = this.byText.get(text);
    if (listed !== undefined && test(listed)) return true;
    return (
      this.hasPrefixes && parseAddrInto(text, this.addr) === undefined && this.byPrefix.someContaining(this.addr, test)
    );
  }
}

/** Adds a filter to a key's group; returns the group's size. */
function appendTo<K>(map: Map<K, number[]>, key: K, filter: number): number {
  const listed = map.get(key);
  if (listed === undefined) {
    map.set(key, [filter]);
    return 1;
  }
  return listed.push(filter);
}

import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LinkTable } from '../../../src/observer/metadata/links.js';

/** A directory shaped like /sys/class/net. */
function fakeSysClassNet(links: Record<string, number>): string {
  const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-net-'));
  for (const [name, ifindex] of Object.entries(links)) addLink(dir, name, ifindex);
  writeFileSync(join(dir, 'bonding_masters'), ''); // a plain file there, as on real systems with bonding loaded
  return dir;
}

function addLink(dir: string, name: string, ifindex: number): void {
  mkdirSync(join(dir, name));
  writeFileSync(join(dir, name, 'ifindex'), `${ifindex}\n`);
}

describe('link table', () => {
  it("knows this machine's links from the start", () => {
    const table = new LinkTable({ sysClassNet: fakeSysClassNet({ lo: 1, eth0: 2, veth1a2b: 17 }) });
    expect([1, 2, 17, 3].map((i) => table.linkName(i))).toEqual(['lo', 'eth0', 'veth1a2b', undefined]);
  });

  it.runIf(existsSync('/sys/class/net/lo/ifindex'))('reads the real /sys/class/net by default', () => {
    const loIndex = Number(readFileSync('/sys/class/net/lo/ifindex', 'utf8'));
    expect(new LinkTable().linkName(loIndex)).toBe('lo');
  });

  it('finds a link created after start, re-reading at most once per rescan interval', () => {
    const dir = fakeSysClassNet({ lo: 1 });
    let now = 0;
    const table = new LinkTable({ sysClassNet: dir, rescanMs: 10_000, now: () => now });
    addLink(dir, 'lxc9', 9);
    now = 5_000;
    expect(table.linkName(9)).toBeUndefined();
    now = 10_000;
    expect(table.linkName(9)).toBe('lxc9');
  });

  it("prefers a source's registration over a local link with the same index, and keeps it across rescans", () => {
    let now = 0;
    const table = new LinkTable({ sysClassNet: fakeSysClassNet({ lo: 1, eth0: 2 }), rescanMs: 1, now: () => now });
    table.register(2, 'capture-if0');
    table.register(40, 'pcapng-if');
    now = 100;
    expect(table.linkName(99)).toBeUndefined(); // triggers a rescan
    expect(table.linkName(2)).toBe('capture-if0');
    expect(table.linkName(40)).toBe('pcapng-if');
    table.register(40, 'renamed');
    expect(table.linkName(40)).toBe('renamed');
  });

  it.each([
    ['a negative index', -1, 'x'],
    ['a fractional index', 1.5, 'x'],
    ['an index beyond 32 bits', 2 ** 32, 'x'],
    ['an empty name', 3, ''],
    ['an absurdly long name', 3, 'x'.repeat(300)],
  ])('ignores a registration with %s', (_case, ifindex, name) => {
    const table = new LinkTable({ sysClassNet: fakeSysClassNet({}) });
    table.register(ifindex, name);
    expect(table.size).toBe(0);
  });

  it('stops taking new registrations at its cap', () => {
    const table = new LinkTable({ sysClassNet: fakeSysClassNet({}), maxLinks: 10 });
    for (let i = 0; i < 1000; i++) table.register(i, `if${i}`);
    expect(table.size).toBe(10);
    table.register(5, 'still-updatable');
    expect(table.linkName(5)).toBe('still-updatable');
  });

  it('works with no /sys at all', () => {
    const table = new LinkTable({ sysClassNet: '/nonexistent/sys/class/net' });
    expect(table.linkName(1)).toBeUndefined();
    table.register(1, 'eth0');
    expect(table.linkName(1)).toBe('eth0');
  });
});

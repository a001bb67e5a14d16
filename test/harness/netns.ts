// A veth pair whose far end lives in its own network namespace, so test traffic really leaves one interface and
// arrives back (loopback traffic only ever "arrives"). Needs root and iproute2.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface VethNamespace {
  /** The namespace's name (for `ip netns exec`), and the far end's interface in it. */
  namespace: string;
  peerIface: string;
  /** Our end, in this namespace. */
  iface: string;
  ifindex: number;
  mac: string;
  address: string;
  /** The far end's address, inside the namespace: send here to make frames leave `iface`. */
  peerAddress: string;
  peerMac: string;
  close(): Promise<void>;
}

/** Creates the pair and namespace (names unique to this process and `tag`); close() removes both. */
export async function vethNamespace(tag: string): Promise<VethNamespace> {
  const id = `${tag}${process.pid % 100000}`.slice(0, 10);
  const iface = `hv${id}a`;
  const peer = `hv${id}b`;
  const ns = `hts-${id}`;
  // A random /30 in 10.213.0.0/16, so pairs made by test files running side by side do not share a route.
  const block = Math.floor(Math.random() * 16384) * 4;
  const prefix = `10.213.${block >> 8}.`;
  const address = `${prefix}${(block & 0xff) + 1}`;
  const peerAddress = `${prefix}${(block & 0xff) + 2}`;
  const steps: string[][] = [
    ['netns', 'add', ns],
    ['link', 'add', iface, 'type', 'veth', 'peer', 'name', peer],
    ['link', 'set', peer, 'netns', ns],
    ['addr', 'add', `${address}/30`, 'dev', iface],
    ['link', 'set', iface, 'up'],
    ['-n', ns, 'addr', 'add', `${peerAddress}/30`, 'dev', peer],
    ['-n', ns, 'link', 'set', peer, 'up'],
  ];
  const close = async () => {
    await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    await run('ip', ['link', 'del', iface]).catch(() => undefined);
  };
  try {
    for (const step of steps) await run('ip', step);
  } catch (err) {
    await close();
    throw err;
  }
  const { stdout } = await run('ip', ['-n', ns, '-o', 'link', 'show', peer]);
  const peerMac = /link\/ether ([0-9a-f:]{17})/.exec(stdout)?.[1] ?? '';
  return {
    namespace: ns,
    peerIface: peer,
    iface,
    ifindex: Number(readFileSync(`/sys/class/net/${iface}/ifindex`, 'utf8')),
    mac: readFileSync(`/sys/class/net/${iface}/address`, 'utf8').trim(),
    address,
    peerAddress,
    peerMac,
    close,
  };
}

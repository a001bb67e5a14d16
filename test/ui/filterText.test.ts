// The filter box reads `hubble observe` flags exactly as the observe command does: the same allow and deny lists and
// selection for the same words, quoting as a shell quotes, and a sentence for what it cannot read.
import { describe, expect, it } from 'vitest';
import { GetFlowsRequest } from '../../src/api/observer/observer.js';
import { observeCommand, type ObservePlan } from '../../src/cli/observe.js';
import { FilterTextError, MAX_FILTER_TEXT, parseFlowsQuery, splitWords } from '../../src/ui/filterText.js';

const NOW = new Date('2026-01-02T03:04:05Z');

/** The request `hubble-ts observe ARGS` would send, from the command's own parser. */
async function observeRequest(args: readonly string[]): Promise<GetFlowsRequest> {
  let plan: ObservePlan | undefined;
  const cmd = observeCommand({ stdout: { write: () => true }, stderr: { write: () => true } }, async (p) => {
    plan = p;
  });
  cmd.exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  await cmd.parseAsync([...args], { from: 'user' });
  return plan!.request;
}

describe('the filter box', () => {
  it('splits words as a shell does', () => {
    expect(splitWords(`--http-path '/a b' --label "app=x y" --fqdn a\\ b  --port=80`)).toEqual([
      '--http-path',
      '/a b',
      '--label',
      'app=x y',
      '--fqdn',
      'a b',
      '--port=80',
    ]);
    expect(splitWords('  ')).toEqual([]);
    expect(splitWords(`--cel-expression "a == \\"b\\""`)).toEqual(['--cel-expression', 'a == "b"']);
  });

  it('asks for what hubble-ts observe asks for, given the same flags', async () => {
    const cases: string[][] = [
      ['--port', '443', '--not', '--protocol', 'udp'],
      ['--from-pod', 'shop/frontend', '--to-namespace', 'db', '--verdict', 'DROPPED', '--verdict', 'FORWARDED'],
      ['-n', 'kube-system', '-t', 'trace:to-stack', '--tcp-flags', 'syn,ack'],
      ['--ip', '10.0.0.0/8', '--not', '--ip', '10.1.0.0/16', '-4'],
      ['--label', 'app=frontend', '--not', '--to-port', '53', '--traffic-direction', 'ingress'],
      ['--http-status', '5+', '--http-method', 'get', '--http-path', '/api/.*', '--fqdn', '*.cilium.io'],
      ['--workload', 'Deployment/frontend', '--identity', 'world', '--node-name', 'k8s*'],
      ['--cel-expression', '_flow.verdict == Verdict.DROPPED', '--all-namespaces', '--encrypted'],
      ['--since', '5m', '--until', '1m', '--uuid', 'abc'],
      ['--last', '50', '--follow'],
      ['--first', '10', '--to-fqdn', 'example.com'],
      ['--all', '--snat-ip', '192.0.2.1'],
    ];
    for (const args of cases) {
      const follow = args.includes('--follow');
      const text = args
        .filter((a) => a !== '--follow')
        .map((a) => (/\s/.test(a) ? `'${a}'` : a))
        .join(' ');
      const page = parseFlowsQuery(text, { follow, defaultLast: 2000, now: NOW }).request;
      // observe's own default count is 20; the page asks for more when no flag says how many.
      const counted = args.some((a) => ['--last', '--first', '--all', '--since', '--until'].includes(a));
      const cli = await observeRequest([...args, ...(counted ? [] : ['--last', '2000'])]);
      // Times: both relative to their own "now"; compare everything else exactly.
      expect({ ...page, since: undefined, until: undefined }, args.join(' ')).toEqual({
        ...cli,
        since: undefined,
        until: undefined,
      });
      expect(page.since !== undefined, args.join(' ')).toBe(cli.since !== undefined);
    }
  });

  it('asks for the last flows and then follows when the Follow switch is on', () => {
    const q = parseFlowsQuery('', { follow: true, defaultLast: 2000 }).request;
    expect(q).toMatchObject({ number: '2000', follow: true, first: false, whitelist: [], blacklist: [] });
    // The switch gives way to typed --first, which cannot follow; typed --follow with it is refused as observe does.
    expect(parseFlowsQuery('--first 5', { follow: true, defaultLast: 2000 }).request).toMatchObject({
      number: '5',
      first: true,
      follow: false,
    });
    expect(() => parseFlowsQuery('--first 5 --follow', { follow: true, defaultLast: 2000 })).toThrow(
      'cannot set both --first and --follow',
    );
    const window = parseFlowsQuery('--since 2026-01-02T03:00:00Z', { follow: false, defaultLast: 2000 }).request;
    expect(window).toMatchObject({ number: '0', follow: false, since: { seconds: 1767322800, nanos: 0 } });
  });

  it('says what is wrong with text it cannot read', () => {
    const cases: [string, string][] = [
      ['--port', '--port needs a value'],
      ['--bogus', 'unknown flag --bogus'],
      ['-x 1', 'unknown flag -x'],
      ['10.0.0.1', '"10.0.0.1" is not a flag: write filters as flags, e.g. --ip 10.0.0.1'],
      ['--ipv4=yes', '--ipv4 takes no value'],
      ["--label 'app=x", "unterminated ' quote"],
      ['--not --not --port 1', 'consecutive --not statements'],
      ['--port 1 --not', 'trailing --not found in the arguments'],
      ['--verdict MAYBE', 'invalid --verdict value: MAYBE'],
      ['--last many', '--last expects a non-negative number, got "many"'],
      ['--first 1 --last 1', 'cannot set both --first and --last'],
      ['--since yesterday', 'since'],
      ['--cel-expression "flow.verdict =="', 'is not a valid CEL expression'],
      ['--http-path "(["', 'http'],
      ['--server 127.0.0.1:4245', 'unknown flag --server'],
      ['--input-file /etc/passwd', 'unknown flag --input-file'],
      ['x'.repeat(MAX_FILTER_TEXT + 1), `the filter is ${MAX_FILTER_TEXT + 1} characters long; at most 4096 are taken`],
    ];
    for (const [text, message] of cases) {
      let thrown: unknown;
      try {
        parseFlowsQuery(text, { follow: false, defaultLast: 2000 });
      } catch (err) {
        thrown = err;
      }
      expect(thrown, text).toBeInstanceOf(FilterTextError);
      expect((thrown as Error).message, text).toContain(message);
    }
  });
});

// FQDN and node-name wildcard patterns compiled to one anchored regular expression, exactly as upstream's
// patterns.go builds its regular expressions ("*.cilium.io", "prod-cluster/k8s-*"), matched by RE2 as Go matches them:
// with a backtracking engine a pattern of many stars ("*a*a*a*a*a*a*a*a*b") took seconds to minutes per name.
import { compileGoRegexp, type GoRegexp } from './goRegexp.js';

/** What a pattern element with nothing in it matches: any FQDN, underscores included. */
const ANY_FQDN = '(?:[-0-9_a-z]+(?:\\.[-0-9_a-z]+)*)';

/** The cluster a node belongs to when its name carries none (Cilium's default cluster name). */
export const DEFAULT_CLUSTER_NAME = 'default';

/** Trims spaces and up to one trailing dot, lowercases: "Cilium.IO. " becomes "cilium.io". */
function canonicalizeFqdnPattern(pattern: string): string {
  let p = pattern.trim();
  if (p.endsWith('.')) p = p.slice(0, -1);
  return p.toLowerCase();
}

/** Appends the regexp for one FQDN pattern; throws Error saying why the pattern is invalid. */
function appendFqdnPattern(out: string[], pattern: string): void {
  const p = canonicalizeFqdnPattern(pattern);
  if (p === '') throw new Error('empty pattern');
  if (p.endsWith('.')) throw new Error('multiple trailing dots in pattern');
  for (const ch of p) {
    if (ch === '.') out.push('\\.');
    // A star spans labels (dots included) but, as upstream, not underscores.
    else if (ch === '*') out.push('[-.0-9a-z]*');
    else if (ch === '-' || ch === '_' || (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z')) out.push(ch);
    else throw new Error(`${JSON.stringify(ch)}: invalid rune in pattern`);
  }
}

/** One regexp matching a whole name against any of the FQDN patterns. */
export function compileFqdnPatterns(patterns: readonly string[]): GoRegexp {
  const out: string[] = ['^(?:'];
  patterns.forEach((p, i) => {
    if (i > 0) out.push('|');
    appendFqdnPattern(out, p);
  });
  out.push(')$');
  return compileGoRegexp(out.join(''));
}

/**
 * One regexp matching "cluster/node" names against node-name patterns. A pattern is
 * "[cluster-pattern/]node-pattern"; an empty element matches every name, and a pattern without a
 * slash matches that node in any cluster.
 */
export function compileNodeNamePatterns(patterns: readonly string[]): GoRegexp {
  const out: string[] = ['^(?:'];
  patterns.forEach((pattern, i) => {
    if (i > 0) out.push('|');
    if (pattern === '') throw new Error('empty pattern');
    const parts = pattern.split('/');
    if (parts.length > 2) throw new Error('too many slashes in pattern');
    const [cluster, node] = parts.length === 2 ? [parts[0]!, parts[1]!] : ['', parts[0]!];
    if (cluster === '') out.push(ANY_FQDN);
    else appendFqdnPattern(out, cluster);
    out.push('/');
    if (node === '') out.push(ANY_FQDN);
    else appendFqdnPattern(out, node);
  });
  out.push(')$');
  return compileGoRegexp(out.join(''));
}

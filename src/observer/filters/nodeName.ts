// node_name: flows observed on a node whose "cluster/node" name matches one of these glob patterns
// ("k8s*", "prod/*.example.com"); a flow's node name without a cluster is in cluster "default".
import type { FlowFilter } from '../../api/flow/flow.js';
import { Cost, type FieldFilter } from './fieldFilter.js';
import { FilterError } from './filterError.js';
import type { GoRegexp } from './goRegexp.js';
import { compileNodeNamePatterns, DEFAULT_CLUSTER_NAME } from './patterns.js';

/** Bounds the per-filter memo of node names; a cluster has far fewer nodes. */
const MAX_REMEMBERED_NODES = 4096;

export function nodeNameFilters(ff: FlowFilter): FieldFilter[] {
  if (ff.nodeName.length === 0) return [];
  let re: GoRegexp;
  try {
    re = compileNodeNamePatterns(ff.nodeName);
  } catch (err) {
    const bad = ff.nodeName.find((p) => {
      try {
        compileNodeNamePatterns([p]);
        return false;
      } catch {
        return true;
      }
    });
    throw new FilterError('node_name', bad, `is not a valid node name pattern: ${(err as Error).message}`);
  }
  const prefix = `${DEFAULT_CLUSTER_NAME}/`;
  // Flows name few distinct nodes: remember each answer instead of building "cluster/node" per flow.
  const answers = new Map<string, boolean>();
  return [
    {
      field: 'node_name',
      cost: Cost.Scan,
      matchFlow: (flow) => {
        const name = flow.nodeName;
        if (name === '') return false;
        let answer = answers.get(name);
        if (answer === undefined) {
          answer = re.test(name.includes('/') ? name : prefix + name);
          if (answers.size >= MAX_REMEMBERED_NODES) answers.clear();
          answers.set(name, answer);
        }
        return answer;
      },
    },
  ];
}

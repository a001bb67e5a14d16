// interface: flows observed on one of these network interfaces; an entry's index (when > 0) and
// name (when set) must both agree with the flow's, so an entry with neither matches any interface.
import type { FlowFilter } from '../../api/flow/flow.js';
import { Cost, type FieldFilter } from './fieldFilter.js';

export function networkInterfaceFilters(ff: FlowFilter): FieldFilter[] {
  if (ff.interface.length === 0) return [];
  const wanted = ff.interface.map((i) => ({ index: i.index, name: i.name }));
  return [
    {
      field: 'interface',
      cost: Cost.Cheap,
      matchFlow: (flow) => {
        const iface = flow.interface;
        if (iface === undefined) return false;
        for (const w of wanted) {
          if (w.index > 0 && w.index !== iface.index) continue;
          if (w.name !== '' && w.name !== iface.name) continue;
          return true;
        }
        return false;
      },
    },
  ];
}

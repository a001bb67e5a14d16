// encrypted: flows whose IP header says encrypted (true) or not (false); a flow without IP is unencrypted.
import type { FlowFilter } from '../../api/flow/flow.js';
import { Cost, type FieldFilter } from './fieldFilter.js';

export function encryptedFilters(ff: FlowFilter): FieldFilter[] {
  if (ff.encrypted.length === 0) return [];
  const wantEncrypted = ff.encrypted.includes(true);
  const wantPlain = ff.encrypted.includes(false);
  return [
    {
      field: 'encrypted',
      cost: Cost.Cheap,
      matchFlow: (flow) => ((flow.IP?.encrypted ?? false) ? wantEncrypted : wantPlain),
    },
  ];
}

// reply: flows whose is_reply is one of these values. A flow that does not know (is_reply unset)
// matches nothing, except a dropped one, which counts as not a reply: upstream keeps that for
// clients (Hubble UI) that filtered on the old `reply` field, always false on drops.
import { Verdict, type FlowFilter } from '../../api/flow/flow.js';
import { Cost, type FieldFilter } from './fieldFilter.js';

export function replyFilters(ff: FlowFilter): FieldFilter[] {
  if (ff.reply.length === 0) return [];
  const wantReply = ff.reply.includes(true);
  const wantNonReply = ff.reply.includes(false);
  return [
    {
      field: 'reply',
      cost: Cost.Cheap,
      matchFlow: (flow) => {
        const isReply = flow.isReply;
        if (isReply === undefined) return flow.verdict === Verdict.DROPPED && wantNonReply;
        return isReply ? wantReply : wantNonReply;
      },
    },
  ];
}

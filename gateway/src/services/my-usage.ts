import type { MyUsageResponse } from '@flexgate/shared';
import { usageOfUser } from '../db/repos/spend';
import type { ServiceContext } from './context';
import { usageRange } from './usage';

/**
 * `GET /v1/me/usage`: the caller's own Flex use, by the UTC day each session started, product and
 * team, over a range checked as the team report's is (R15: a refund counts on its charge's day).
 */
export async function myUsage(
  ctx: ServiceContext,
  autodeskId: string,
  q: { from?: string | undefined; to?: string | undefined },
): Promise<MyUsageResponse> {
  const r = usageRange(ctx, q);
  const rows = (await usageOfUser(ctx.db, autodeskId, r.from, r.to)).filter((x) => x.tokens !== 0 || x.sessions !== 0);
  const total = rows.reduce((t, x) => ({ tokens: t.tokens + x.tokens, sessions: t.sessions + x.sessions }), { tokens: 0, sessions: 0 });
  return { autodeskId, from: r.from, to: r.to, rows, total };
}

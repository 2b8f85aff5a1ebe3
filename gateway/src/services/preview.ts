import { findProduct } from '../db/repos/catalog';
import { teamBalance } from '../db/repos/lots';
import { decideAccess } from '../domain/precedence';
import { type LaunchPreview, previewLaunch } from '../domain/preview';
import { loadFacts } from '../launch/facts';
import type { ServiceContext } from './context';

/** `POST /v1/launch` with `dryRun: true`: the launch's facts and rules, nothing written, nothing signed. */
export async function dryRunLaunch(
  ctx: ServiceContext,
  input: { autodeskId: string; product: string; team?: string | undefined },
): Promise<LaunchPreview> {
  const now = ctx.clock.now();
  const [facts] = await loadFacts(ctx.db, [{ autodeskId: input.autodeskId, product: input.product, team: input.team }], now);
  if (!facts) throw new Error('loadFacts answers one fact per ask');
  const d = decideAccess(facts.question);
  if (!d.granted || d.source !== 'flex') return previewLaunch(input.product, d);
  const open = facts.open;
  // R7: the open session answers, charging nothing; its team's balance only to an active member of that team.
  if (open) return previewLaunch(input.product, d, { open: true, balance: open.balance, rate: open.session.rate });
  const [balance, product] = await Promise.all([teamBalance(ctx.db, d.team.teamId, now.toISOString()), findProduct(ctx.db, input.product)]);
  return previewLaunch(input.product, d, { open: false, balance, rate: product?.dailyRate ?? 0 });
}

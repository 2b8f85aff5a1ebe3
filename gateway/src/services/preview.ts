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
  const [balance, product] = await Promise.all([
    open ? open.balance : teamBalance(ctx.db, d.team.teamId, now.toISOString()),
    findProduct(ctx.db, input.product),
  ]);
  return previewLaunch(input.product, d, { open: open !== undefined, balance, rate: product?.dailyRate ?? 0 });
}

import type { DefaultsView } from '@flexgate/shared';
import { replaceTeamDefaults, teamDefaults } from '../db/repos/members';
import { inTransaction, serialize } from '../db/tx';
import type { AuditOrigin } from '../domain/audit';
import { audit } from './audit';
import type { ServiceContext } from './context';
import { requireProducts } from './members';
import { requireTeam } from './teams';

export async function getDefaults(ctx: ServiceContext, teamId: string): Promise<DefaultsView> {
  await requireTeam(ctx, teamId);
  const products = await teamDefaults(ctx.db, teamId);
  return { team: teamId, products, enabled: products.length > 0 };
}

/**
 * R13: the team's default products, for every non-guest member, new and existing. The set is
 * stored as given, so a product added to the catalog later is not in it; an empty set turns
 * defaults off. No e-mail is sent (R14).
 */
export async function setDefaults(ctx: ServiceContext, teamId: string, products: string[], origin: AuditOrigin): Promise<DefaultsView> {
  await requireTeam(ctx, teamId);
  const unique = [...new Set(products)].sort();
  await requireProducts(ctx, unique);
  await inTransaction(ctx.db, async (trx) => {
    // The set is deleted and inserted: two at once must not leave the union of both.
    await serialize(trx, `defaults:${teamId}`);
    const before = await teamDefaults(trx, teamId);
    await replaceTeamDefaults(trx, teamId, unique);
    await audit(trx, origin, ctx.clock.now().toISOString(), {
      team: teamId,
      action: 'defaults.changed',
      before: { products: before },
      after: { products: unique },
    });
  });
  return { team: teamId, products: unique, enabled: unique.length > 0 };
}

import type { AccessExplanation } from '@flexgate/shared';
import { listProducts } from '../db/repos/catalog';
import { currentLicenses } from '../db/repos/licenses';
import { membershipFacts } from '../db/repos/members';
import { notFound } from '../domain/errors';
import { decideAccess } from '../domain/precedence';
import type { ServiceContext } from './context';
import { requireTeam } from './teams';

/**
 * R18: for every catalog product, what a launch by this member through this team would get right
 * now, and why: the same facts and the same pure precedence (R9-R13) the launch itself uses,
 * gathered once for the whole catalog.
 */
export async function explainAccess(ctx: ServiceContext, teamId: string, autodeskId: string): Promise<AccessExplanation[]> {
  await requireTeam(ctx, teamId);
  const now = ctx.clock.now();
  const nowIso = now.toISOString();
  const [catalog, licenses, memberships] = await Promise.all([
    listProducts(ctx.db),
    currentLicenses(ctx.db, autodeskId, nowIso),
    membershipFacts(ctx.db, autodeskId, nowIso, teamId),
  ]);
  if (memberships.length === 0) throw notFound(`${autodeskId} is not a member of this team.`);
  return catalog.map((p) => {
    const d = decideAccess({
      autodeskId,
      productKey: p.key,
      product: p,
      licenses,
      memberships,
      requestedTeam: teamId,
      now,
    });
    if (d.granted) return { product: p.key, name: p.name, granted: true, source: d.source, reason: d.reason };
    return { product: p.key, name: p.name, granted: false, source: null, code: d.code, rule: d.rule, reason: d.reason };
  });
}

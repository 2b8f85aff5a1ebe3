import type { AccessExplanation } from '@flexgate/shared';
import { listProducts } from '../db/repos/catalog';
import { currentLicenses } from '../db/repos/licenses';
import { teamBalance } from '../db/repos/lots';
import { membershipFacts } from '../db/repos/members';
import { sessionRowsOf, sessionStateOf } from '../db/repos/sessions';
import { notFound } from '../domain/errors';
import { explainForTeam } from '../domain/explain';
import { decideAccess } from '../domain/precedence';
import { previewLaunch } from '../domain/preview';
import type { ServiceContext } from './context';
import { requireTeam } from './teams';

/**
 * R18: for every catalog product, what a launch by this member through this team would get right
 * now, and why: the same facts and the same pure precedence (R9-R13) the launch itself uses,
 * gathered once for the whole catalog. What it says is scoped to this team (domain/explain.ts),
 * down to the sessions it counts: never one another team paid for.
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
  // R4 as the launch applies it: a Flex grant that would open a session needs the day's tokens.
  const [balance, sessions] = await Promise.all([
    teamBalance(ctx.db, teamId, nowIso),
    sessionRowsOf(
      ctx.db,
      catalog.map((p) => ({ autodeskId, product: p.key })),
      nowIso,
    ),
  ]);
  return catalog.map((p) => {
    const ask = { autodeskId, productKey: p.key, product: p, memberships, requestedTeam: teamId, now };
    const open = sessionStateOf(
      sessions.filter((r) => r.product_key === p.key),
      nowIso,
    ).open;
    // The same rule as a dry-run launch: R4 for a Flex grant that would open a session. Only a
    // session this team paid for counts (R7: its relaunch charges nothing); one paid by another
    // team is that team's use (R18): the answer is the one a first launch through this team gets.
    const flex = { open: open?.team_id === teamId, balance, rate: p.dailyRate };
    const launch = previewLaunch(p.key, decideAccess({ ...ask, licenses }), flex);
    // This team's own answer: the person's licences are not this team's to show.
    const team = previewLaunch(p.key, decideAccess({ ...ask, licenses: [] }), flex);
    return explainForTeam(p, launch, team, autodeskId);
  });
}

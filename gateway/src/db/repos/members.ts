import type { Kysely } from 'kysely';
import type { MembershipFact } from '../../domain/precedence';
import type { DB } from '../schema';

/**
 * Everything precedence needs about a user's team memberships, in three queries whatever the
 * number of teams: the member rows, their own product selections, and their teams' defaults.
 */
export async function membershipFacts(
  db: Kysely<DB>,
  autodeskId: string,
  nowIso: string,
  teamId?: string,
): Promise<MembershipFact[]> {
  let q = db
    .selectFrom('members')
    .innerJoin('teams', 'teams.id', 'members.team_id')
    .select([
      'members.team_id',
      'teams.name as team_name',
      'members.guest',
      'members.all_products',
      'members.status',
    ])
    .where('members.autodesk_id', '=', autodeskId);
  if (teamId !== undefined) q = q.where('members.team_id', '=', teamId);
  const rows = await q.orderBy('members.team_id').execute();
  if (rows.length === 0) return [];
  const teamIds = rows.map((r) => r.team_id);
  const [products, defaults, invitations] = await Promise.all([
    db
      .selectFrom('member_products')
      .select(['team_id', 'product_key'])
      .where('autodesk_id', '=', autodeskId)
      .where('team_id', 'in', teamIds)
      .execute(),
    db.selectFrom('team_defaults').select(['team_id', 'product_key']).where('team_id', 'in', teamIds).execute(),
    rows.some((r) => r.status === 'invited')
      ? db
          .selectFrom('invitations')
          .select(['team_id', 'expires_at'])
          .where('autodesk_id', '=', autodeskId)
          .where('team_id', 'in', teamIds)
          .where('accepted_at', 'is', null)
          .where('superseded_at', 'is', null)
          .execute()
      : Promise.resolve([]),
  ]);
  return rows.map((r) => {
    const invitation = invitations.find((i) => i.team_id === r.team_id);
    const status: MembershipFact['status'] =
      r.status === 'active' ? 'active' : invitation && invitation.expires_at > nowIso ? 'invited' : 'expired';
    return {
      teamId: r.team_id,
      teamName: r.team_name,
      guest: Number(r.guest) === 1,
      allProducts: Number(r.all_products) === 1,
      status,
      products: products.filter((p) => p.team_id === r.team_id).map((p) => p.product_key),
      defaults: defaults.filter((d) => d.team_id === r.team_id).map((d) => d.product_key),
    };
  });
}

export async function findMember(db: Kysely<DB>, teamId: string, autodeskId: string) {
  return db
    .selectFrom('members')
    .selectAll()
    .where('team_id', '=', teamId)
    .where('autodesk_id', '=', autodeskId)
    .executeTakeFirst();
}

/** Returns false when the user is already a member of the team. */
export async function insertMember(
  db: Kysely<DB>,
  m: {
    teamId: string;
    autodeskId: string;
    name: string;
    guest: boolean;
    allProducts: boolean;
    status: 'active' | 'invited';
    createdAt: string;
  },
): Promise<boolean> {
  const res = await db
    .insertInto('members')
    .values({
      team_id: m.teamId,
      autodesk_id: m.autodeskId,
      name: m.name,
      guest: m.guest ? 1 : 0,
      all_products: m.allProducts ? 1 : 0,
      status: m.status,
      created_at: m.createdAt,
    })
    .onConflict((oc) => oc.columns(['team_id', 'autodesk_id']).doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function replaceMemberProducts(
  db: Kysely<DB>,
  teamId: string,
  autodeskId: string,
  products: readonly string[],
): Promise<void> {
  await db.deleteFrom('member_products').where('team_id', '=', teamId).where('autodesk_id', '=', autodeskId).execute();
  const unique = [...new Set(products)];
  if (unique.length > 0) {
    await db
      .insertInto('member_products')
      .values(unique.map((p) => ({ team_id: teamId, autodesk_id: autodeskId, product_key: p })))
      .execute();
  }
}

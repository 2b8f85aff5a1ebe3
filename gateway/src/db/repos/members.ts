import { searchFold } from '@flexgate/shared';
import { type Kysely, PostgresAdapter, sql } from 'kysely';
import { memberStatus } from '../../domain/access';
import type { MembershipFact } from '../../domain/precedence';
import { shaped } from '../compiled';
import { known, type Read, read, readAll, readOne } from '../reads';
import type { DB } from '../schema';
import { serialize, serializeShared, type Tx } from '../tx';

/**
 * Everything precedence needs about a user's team memberships (R11-R13): `membershipsOf` for one
 * user, optionally of one team.
 */
export async function membershipFacts(db: Kysely<DB>, autodeskId: string, nowIso: string, teamId?: string): Promise<MembershipFact[]> {
  const all = (await membershipsOf(db, [autodeskId], nowIso)).get(autodeskId) ?? [];
  return teamId === undefined ? all : all.filter((m) => m.teamId === teamId);
}

const membersQuery = shaped((db, a: { ids: string[] }) =>
  db
    .selectFrom('members')
    .innerJoin('teams', 'teams.id', 'members.team_id')
    .select([
      'members.autodesk_id',
      'members.team_id',
      'teams.name as team_name',
      'members.guest',
      'members.all_products',
      'members.status',
    ])
    .where('members.autodesk_id', 'in', a.ids)
    .orderBy('members.team_id'),
);
const selectionsQuery = shaped((db, a: { ids: string[]; teams: string[] }) =>
  db
    .selectFrom('member_products')
    .select(['autodesk_id', 'team_id', 'product_key'])
    .where('autodesk_id', 'in', a.ids)
    .where('team_id', 'in', a.teams),
);
const defaultsQuery = shaped((db, a: { teams: string[] }) =>
  db.selectFrom('team_defaults').select(['team_id', 'product_key']).where('team_id', 'in', a.teams),
);
const invitationsQuery = shaped((db, a: { ids: string[]; teams: string[] }) =>
  db
    .selectFrom('invitations')
    .select(['autodesk_id', 'team_id', 'expires_at'])
    .where('autodesk_id', 'in', a.ids)
    .where('team_id', 'in', a.teams)
    .where('accepted_at', 'is', null)
    .where('superseded_at', 'is', null),
);

/**
 * The memberships of several users, in four queries whatever their number and teams': the member
 * rows, their own product selections, their teams' defaults, and pending invitations. By user,
 * each user's teams in id order.
 */
export async function membershipsOf(
  db: Kysely<DB>,
  autodeskIds: readonly string[],
  nowIso: string,
): Promise<Map<string, MembershipFact[]>> {
  return membershipsFrom(db, await readOne(db, membersRead(db, autodeskIds)), nowIso);
}

type MemberTeamRow = {
  autodesk_id: string;
  team_id: string;
  team_name: string;
  guest: number;
  all_products: number;
  status: 'active' | 'invited';
};

/** The member rows of several users, the first of `membershipsOf`'s reads, to send with others (`readAll`). */
export function membersRead(db: Kysely<DB>, autodeskIds: readonly string[]): Read<MemberTeamRow[]> {
  if (autodeskIds.length === 0) return known([]);
  return read(membersQuery(db, { ids: [...new Set(autodeskIds)] }), (rows) => rows);
}

/** The memberships of the users of `rows` (`membersRead`): the reads that depend on them, in one go. */
export async function membershipsFrom(
  db: Kysely<DB>,
  rows: readonly MemberTeamRow[],
  nowIso: string,
): Promise<Map<string, MembershipFact[]>> {
  const out = new Map<string, MembershipFact[]>();
  if (rows.length === 0) return out;
  const ids = [...new Set(rows.map((r) => r.autodesk_id))];
  const teamIds = [...new Set(rows.map((r) => r.team_id))];
  // An all-products member's selection and the team's defaults decide nothing (R12): not read for them.
  const selecting = [...new Set(rows.filter((r) => Number(r.all_products) !== 1).map((r) => r.autodesk_id))];
  const [products, defaults, invitations] = await readAll(db, [
    selecting.length > 0 ? read(selectionsQuery(db, { ids: selecting, teams: teamIds }), (r) => r) : known([]),
    selecting.length > 0 ? read(defaultsQuery(db, { teams: teamIds }), (r) => r) : known([]),
    rows.some((r) => r.status === 'invited') ? read(invitationsQuery(db, { ids, teams: teamIds }), (r) => r) : known([]),
  ]);
  const now = new Date(nowIso);
  for (const r of rows) {
    const all = Number(r.all_products) === 1;
    const invitation = invitations
      .filter((i) => i.autodesk_id === r.autodesk_id && i.team_id === r.team_id)
      .reduce<string | undefined>((latest, i) => (latest === undefined || i.expires_at > latest ? i.expires_at : latest), undefined);
    const fact: MembershipFact = {
      teamId: r.team_id,
      teamName: r.team_name,
      guest: Number(r.guest) === 1,
      allProducts: all,
      status: memberStatus(r.status, invitation, now),
      products: all ? [] : products.filter((p) => p.team_id === r.team_id && p.autodesk_id === r.autodesk_id).map((p) => p.product_key),
      defaults: all ? [] : defaults.filter((d) => d.team_id === r.team_id).map((d) => d.product_key),
    };
    const list = out.get(r.autodesk_id);
    if (list) list.push(fact);
    else out.set(r.autodesk_id, [fact]);
  }
  return out;
}

export async function findMember(db: Kysely<DB>, teamId: string, autodeskId: string) {
  return db.selectFrom('members').selectAll().where('team_id', '=', teamId).where('autodesk_id', '=', autodeskId).executeTakeFirst();
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
      name_fold: searchFold(m.name),
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

export interface MemberRow {
  autodeskId: string;
  name: string;
  guest: boolean;
  allProducts: boolean;
  status: 'active' | 'invited';
  products: string[];
}

/** The own product selections (R12) of some members of a team, by Autodesk ID, each in product key order. */
export async function memberProducts(db: Kysely<DB>, teamId: string, autodeskIds: readonly string[]): Promise<Map<string, string[]>> {
  const byMember = new Map<string, string[]>();
  for (const part of chunks(autodeskIds)) {
    const products = await db
      .selectFrom('member_products')
      .select(['autodesk_id', 'product_key'])
      .where('team_id', '=', teamId)
      .where('autodesk_id', 'in', part)
      .orderBy('product_key')
      .execute();
    for (const p of products) {
      const list = byMember.get(p.autodesk_id);
      if (list) list.push(p.product_key);
      else byMember.set(p.autodesk_id, [p.product_key]);
    }
  }
  return byMember;
}

/** `text` as a LIKE pattern (escape character `\`) matching it anywhere: its `%`, `_` and `\` match only themselves. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}

/**
 * A team's members with their own product selections, in two queries whatever their number: one
 * member, or a page in Autodesk ID order (those after `after`, at most `limit`); with `search`
 * (already `searchFold`ed), only those whose name or Autodesk ID contains it.
 */
export async function listMembers(
  db: Kysely<DB>,
  teamId: string,
  only: { autodeskId: string } | { after?: string | undefined; limit?: number | undefined; search?: string | undefined } = {},
): Promise<MemberRow[]> {
  let mq = db.selectFrom('members').selectAll().where('team_id', '=', teamId);
  if ('autodeskId' in only) mq = mq.where('autodesk_id', '=', only.autodeskId);
  else {
    if (only.search !== undefined && only.search !== '') {
      const pattern = containsPattern(only.search);
      // Names are matched by their stored fold (`name_fold`, written with every name), Autodesk IDs
      // as they are (stored folded already). A pattern starting with `%` uses no index: the team's
      // rows only are read (BENCHMARKS.md, test/bench/member-search.ts).
      mq = mq.where((eb) =>
        eb.or([
          eb('name_fold', 'like', sql<string>`${pattern} escape '\\'`),
          eb('autodesk_id', 'like', sql<string>`${pattern} escape '\\'`),
        ]),
      );
    }
    if (only.after !== undefined) mq = mq.where('autodesk_id', '>', only.after);
    if (only.limit !== undefined) mq = mq.limit(only.limit);
  }
  const members = await mq.orderBy('autodesk_id').execute();
  const byMember = await memberProducts(
    db,
    teamId,
    members.map((m) => m.autodesk_id),
  );
  return members.map((m) => ({
    autodeskId: m.autodesk_id,
    name: m.name,
    guest: Number(m.guest) === 1,
    allProducts: Number(m.all_products) === 1,
    status: m.status,
    products: byMember.get(m.autodesk_id) ?? [],
  }));
}

/**
 * How many members a team has by status (R11): active; invited, with an open invitation not yet
 * expired at `nowIso`; the other invited ones, expired.
 */
export async function memberCounts(
  db: Kysely<DB>,
  teamId: string,
  nowIso: string,
): Promise<{ active: number; invited: number; expired: number }> {
  const rows = await db
    .selectFrom('members as m')
    .select((eb) => [
      'm.status',
      eb
        .exists(
          eb
            .selectFrom('invitations as i')
            .select('i.id')
            .whereRef('i.team_id', '=', 'm.team_id')
            .whereRef('i.autodesk_id', '=', 'm.autodesk_id')
            .where('i.accepted_at', 'is', null)
            .where('i.superseded_at', 'is', null)
            .where('i.expires_at', '>', nowIso),
        )
        .as('pending'),
      eb.fn.countAll<number>().as('n'),
    ])
    .where('m.team_id', '=', teamId)
    .groupBy(['m.status', 'pending'])
    .execute();
  const out = { active: 0, invited: 0, expired: 0 };
  for (const r of rows) {
    const n = Number(r.n);
    if (r.status === 'active') out.active += n;
    // PostgreSQL answers a boolean, SQLite 0 or 1.
    else if (Number(r.pending) === 1) out.invited += n;
    else out.expired += n;
  }
  return out;
}

/**
 * Makes this transaction's changes of one member (its products, invitation, removal) wait for any
 * other's: each reads the member before it writes (db/tx.ts `serialize`). A CSV import of the team
 * writes thousands of members without taking theirs: a change waits for it whole, as it for the
 * changes under way (otherwise one read the member before the file and wrote after it). The first
 * lock a transaction takes, so no one waits for it while holding another.
 */
export async function lockMember(trx: Tx, teamId: string, autodeskId: string): Promise<void> {
  await serializeShared(trx, importLock(teamId));
  await serialize(trx, `member:${teamId}:${autodeskId.toLowerCase()}`);
}

/** The lock a team's CSV import takes alone (`serialize`), and each change of one of its members shared. */
export function importLock(teamId: string): string {
  return `import:${teamId}`;
}

export async function setAllProducts(db: Kysely<DB>, teamId: string, autodeskId: string, allProducts: boolean): Promise<boolean> {
  const res = await db
    .updateTable('members')
    .set({ all_products: allProducts ? 1 : 0 })
    .where('team_id', '=', teamId)
    .where('autodesk_id', '=', autodeskId)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export async function setGuest(db: Kysely<DB>, teamId: string, autodeskId: string, guest: boolean): Promise<boolean> {
  const res = await db
    .updateTable('members')
    .set({ guest: guest ? 1 : 0 })
    .where('team_id', '=', teamId)
    .where('autodesk_id', '=', autodeskId)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export async function activateMember(db: Kysely<DB>, teamId: string, autodeskId: string): Promise<boolean> {
  const res = await db
    .updateTable('members')
    .set({ status: 'active' })
    .where('team_id', '=', teamId)
    .where('autodesk_id', '=', autodeskId)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export async function deleteMember(db: Kysely<DB>, teamId: string, autodeskId: string): Promise<boolean> {
  await db.deleteFrom('member_products').where('team_id', '=', teamId).where('autodesk_id', '=', autodeskId).execute();
  const res = await db.deleteFrom('members').where('team_id', '=', teamId).where('autodesk_id', '=', autodeskId).executeTakeFirst();
  return Number(res.numDeletedRows) === 1;
}

/** Removes a member only while still pending (a declined invitation); an active member stays. */
export async function deletePendingMember(db: Kysely<DB>, teamId: string, autodeskId: string): Promise<boolean> {
  const pending = await db
    .selectFrom('members')
    .select('autodesk_id')
    .where('team_id', '=', teamId)
    .where('autodesk_id', '=', autodeskId)
    .where('status', '=', 'invited')
    .executeTakeFirst();
  return pending ? deleteMember(db, teamId, autodeskId) : false;
}

export async function teamDefaults(db: Kysely<DB>, teamId: string): Promise<string[]> {
  const rows = await db.selectFrom('team_defaults').select('product_key').where('team_id', '=', teamId).orderBy('product_key').execute();
  return rows.map((r) => r.product_key);
}

export async function replaceTeamDefaults(db: Kysely<DB>, teamId: string, products: readonly string[]): Promise<void> {
  await db.deleteFrom('team_defaults').where('team_id', '=', teamId).execute();
  const unique = [...new Set(products)];
  if (unique.length > 0) {
    await db
      .insertInto('team_defaults')
      .values(unique.map((p) => ({ team_id: teamId, product_key: p })))
      .execute();
  }
}

const CHUNK = 500;

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Writes many members at once (imports): new ones inserted as invited, existing ones updated in
 * place (their status kept), and every listed member's product selection replaced. Returns the
 * addresses it inserted: decided by the insert itself, so that a member added by someone else
 * meanwhile (committed or not) counts as existing, never as created twice. Batched, so that
 * 10,000 rows are a few dozen statements rather than tens of thousands.
 */
export async function upsertMembers(
  db: Kysely<DB>,
  teamId: string,
  rows: readonly {
    autodeskId: string;
    name: string;
    guest: boolean;
    allProducts: boolean;
    products: readonly string[];
  }[],
  createdAt: string,
): Promise<Set<string>> {
  const inserted = new Set<string>();
  const values = (part: typeof rows) =>
    part.map((r) => ({
      team_id: teamId,
      autodesk_id: r.autodeskId,
      name: r.name,
      name_fold: searchFold(r.name),
      guest: r.guest ? 1 : 0,
      all_products: r.allProducts ? 1 : 0,
      status: 'invited' as const,
      created_at: createdAt,
    }));
  for (const part of chunks(rows)) {
    const fresh = await db
      .insertInto('members')
      .values(values(part))
      .onConflict((oc) => oc.columns(['team_id', 'autodesk_id']).doNothing())
      .returning('autodesk_id')
      .execute();
    for (const r of fresh) inserted.add(r.autodesk_id);
    const existing = part.filter((r) => !inserted.has(r.autodeskId));
    if (existing.length > 0) {
      await db
        .insertInto('members')
        .values(values(existing))
        .onConflict((oc) =>
          oc.columns(['team_id', 'autodesk_id']).doUpdateSet((eb) => ({
            name: eb.ref('excluded.name'),
            name_fold: eb.ref('excluded.name_fold'),
            guest: eb.ref('excluded.guest'),
            all_products: eb.ref('excluded.all_products'),
          })),
        )
        .execute();
    }
    await db
      .deleteFrom('member_products')
      .where('team_id', '=', teamId)
      .where(
        'autodesk_id',
        'in',
        part.map((r) => r.autodeskId),
      )
      .execute();
  }
  const products = rows.flatMap((r) =>
    [...new Set(r.products)].map((p) => ({ team_id: teamId, autodesk_id: r.autodeskId, product_key: p })),
  );
  for (const part of chunks(products)) await db.insertInto('member_products').values(part).execute();
  return inserted;
}

/**
 * PostgreSQL plans from statistics its autovacuum gathers a minute or more after a bulk write, and
 * only once a tenth of a table changed. Until then a team just given thousands of members was
 * planned as a handful of rows: the Members page's count of unsent invitations ran as a nested loop
 * over both tables, 10 s for 10,000 members (BENCHMARKS.md). Run after an import commits; SQLite
 * keeps no statistics unless asked and plans these queries by their indexes alone.
 */
export async function refreshMemberStatistics(db: Kysely<DB>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) await sql`analyze members, member_products, invitations`.execute(db);
}

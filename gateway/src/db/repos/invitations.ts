import type { Kysely } from 'kysely';
import type { DB } from '../schema';
import type { Tx } from '../tx';

export interface InvitationRow {
  id: string;
  teamId: string;
  autodeskId: string;
  expiresAt: string;
  acceptedAt: string | null;
  supersededAt: string | null;
  /** When its e-mail was written to the outbox; null: never (an import's, R14). */
  emailedAt: string | null;
}

const toRow = (r: {
  id: string;
  team_id: string;
  autodesk_id: string;
  expires_at: string;
  accepted_at: string | null;
  superseded_at: string | null;
  emailed_at: string | null;
}): InvitationRow => ({
  id: r.id,
  teamId: r.team_id,
  autodeskId: r.autodesk_id,
  expiresAt: r.expires_at,
  acceptedAt: r.accepted_at,
  supersededAt: r.superseded_at,
  emailedAt: r.emailed_at,
});

export async function insertInvitations(
  trx: Tx,
  rows: readonly {
    id: string;
    teamId: string;
    autodeskId: string;
    tokenHash: string;
    expiresAt: string;
    createdAt: string;
    /** The instant its e-mail is written to the outbox, in this transaction; null: none (an import). */
    emailedAt: string | null;
  }[],
): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    await trx
      .insertInto('invitations')
      .values(
        rows.slice(i, i + 500).map((r) => ({
          id: r.id,
          team_id: r.teamId,
          autodesk_id: r.autodeskId,
          token_hash: r.tokenHash,
          expires_at: r.expiresAt,
          accepted_at: null,
          superseded_at: null,
          created_at: r.createdAt,
          emailed_at: r.emailedAt,
        })),
      )
      .execute();
  }
}

export async function findInvitation(db: Kysely<DB>, id: string): Promise<InvitationRow | null> {
  const r = await db.selectFrom('invitations').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? toRow(r) : null;
}

export async function findInvitationByTokenHash(db: Kysely<DB>, tokenHash: string): Promise<InvitationRow | null> {
  const r = await db.selectFrom('invitations').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
  return r ? toRow(r) : null;
}

/** The current invitations (neither accepted nor replaced) of a team, or of one of its members. */
export async function openInvitations(db: Kysely<DB>, teamId: string, autodeskIds?: string | readonly string[]): Promise<InvitationRow[]> {
  let q = db
    .selectFrom('invitations')
    .selectAll()
    .where('team_id', '=', teamId)
    .where('accepted_at', 'is', null)
    .where('superseded_at', 'is', null);
  if (typeof autodeskIds === 'string') q = q.where('autodesk_id', '=', autodeskIds);
  else if (autodeskIds !== undefined) {
    if (autodeskIds.length === 0) return [];
    q = q.where('autodesk_id', 'in', autodeskIds);
  }
  return (await q.orderBy('created_at').execute()).map(toRow);
}

/** R11: a resend (or a removal) kills the tokens sent before; guarded so that two resends do not both win. */
export async function supersedeInvitations(trx: Tx, teamId: string, autodeskId: string, atIso: string): Promise<number> {
  const res = await trx
    .updateTable('invitations')
    .set({ superseded_at: atIso })
    .where('team_id', '=', teamId)
    .where('autodesk_id', '=', autodeskId)
    .where('accepted_at', 'is', null)
    .where('superseded_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** Accepts only a live invitation: not accepted, not replaced, not expired at `atIso`. */
export async function markAccepted(trx: Tx, id: string, atIso: string): Promise<boolean> {
  const res = await trx
    .updateTable('invitations')
    .set({ accepted_at: atIso })
    .where('id', '=', id)
    .where('accepted_at', 'is', null)
    .where('superseded_at', 'is', null)
    .where('expires_at', '>', atIso)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** An open invitation whose e-mail was never written (an import's, R14), with what its e-mail says of the member. */
export interface NeverEmailedRow {
  id: string;
  autodeskId: string;
  name: string;
  guest: boolean;
  allProducts: boolean;
}

/** Open (neither accepted nor replaced), never e-mailed, of a team; `ids` narrows them to those invitations. */
function neverEmailedQuery(db: Kysely<DB>, teamId: string, ids: readonly string[] | undefined) {
  let q = db
    .selectFrom('invitations as i')
    .innerJoin('members as m', (j) => j.onRef('m.team_id', '=', 'i.team_id').onRef('m.autodesk_id', '=', 'i.autodesk_id'))
    .where('i.team_id', '=', teamId)
    .where('i.emailed_at', 'is', null)
    .where('i.accepted_at', 'is', null)
    .where('i.superseded_at', 'is', null)
    .where('m.status', '=', 'invited');
  if (ids !== undefined) q = q.where('i.id', 'in', [...ids]);
  return q;
}

/** How many of a team's open invitations were never e-mailed (of `ids`, when given). */
export async function countNeverEmailed(db: Kysely<DB>, teamId: string, ids?: readonly string[]): Promise<number> {
  if (ids?.length === 0) return 0;
  const r = await neverEmailedQuery(db, teamId, ids)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}

/** A page of them in Autodesk ID order: those after `after`, at most `limit`. */
export async function neverEmailed(
  db: Kysely<DB>,
  teamId: string,
  page: { ids?: readonly string[] | undefined; after?: string | undefined; limit: number },
): Promise<NeverEmailedRow[]> {
  if (page.ids?.length === 0) return [];
  let q = neverEmailedQuery(db, teamId, page.ids).select(['i.id', 'i.autodesk_id', 'm.name', 'm.guest', 'm.all_products']);
  if (page.after !== undefined) q = q.where('i.autodesk_id', '>', page.after);
  const rows = await q.orderBy('i.autodesk_id').limit(page.limit).execute();
  return rows.map((r) => ({
    id: r.id,
    autodeskId: r.autodesk_id,
    name: r.name,
    guest: Number(r.guest) === 1,
    allProducts: Number(r.all_products) === 1,
  }));
}

/**
 * Replaces never-e-mailed invitations (their token was never sent to anyone), guarded: of two
 * sends, a resend or a removal racing for one, only the first replaces it. Answers the ids this
 * transaction replaced: the ones whose e-mail it may now send.
 */
export async function supersedeNeverEmailed(trx: Tx, ids: readonly string[], atIso: string): Promise<Set<string>> {
  const won = new Set<string>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await trx
      .updateTable('invitations')
      .set({ superseded_at: atIso })
      .where('id', 'in', ids.slice(i, i + 500))
      .where('emailed_at', 'is', null)
      .where('accepted_at', 'is', null)
      .where('superseded_at', 'is', null)
      .returning('id')
      .execute();
    for (const r of rows) won.add(r.id);
  }
  return won;
}

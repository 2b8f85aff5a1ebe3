import type { Kysely } from 'kysely';
import type { DB, RefreshTokensTable, TokenRevocationsTable } from '../schema';
import { serialize, type Tx } from '../tx';

export async function insertRefreshToken(db: Kysely<DB>, row: RefreshTokensTable): Promise<void> {
  await db.insertInto('refresh_tokens').values(row).execute();
}

/** A refresh token by its hash, with whether its family or its user was revoked since it was made. */
export async function findRefreshToken(
  db: Kysely<DB>,
  tokenHash: string,
): Promise<(RefreshTokensTable & { familyRevoked: boolean }) | undefined> {
  const row = await db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
  if (!row) return undefined;
  return { ...row, familyRevoked: await isRevoked(db, row) };
}

/**
 * Whether the sign-in of a refresh token was ended: its family, or its user by a revocation its
 * sign-in did not come after (a row from before migration 024: one dated at or after `created_at`).
 */
export async function isRevoked(
  db: Kysely<DB>,
  row: Pick<RefreshTokensTable, 'family' | 'autodesk_id' | 'created_at' | 'signed_in_after'>,
): Promise<boolean> {
  const after = row.signed_in_after;
  const revoked = await db
    .selectFrom('token_revocations')
    .select('seq')
    .where((eb) =>
      eb.or([
        eb.and([eb('kind', '=', 'family'), eb('subject', '=', row.family)]),
        eb.and([
          eb('kind', '=', 'user'),
          eb('subject', '=', row.autodesk_id),
          after === null ? eb('at', '>=', row.created_at) : eb('seq', '>', after),
        ]),
      ]),
    )
    .executeTakeFirst();
  return revoked !== undefined;
}

/**
 * The seq of the user's last revocation (0: none), which a sign-in made now comes after. A user's
 * revocations are made one at a time (`lockSignIns`), so one not committed yet gets a greater seq
 * and ends that sign-in.
 */
export async function lastUserRevocation(db: Kysely<DB>, autodeskId: string): Promise<number> {
  const row = await db
    .selectFrom('token_revocations')
    .select((eb) => eb.fn.max('seq').as('seq'))
    .where('kind', '=', 'user')
    .where('subject', '=', autodeskId)
    .executeTakeFirst();
  return Number(row?.seq ?? 0);
}

/**
 * Makes a user's revocation and each refresh of its sign-ins run one after the other, so that a
 * refresh under way when the operator revokes either ends before (and is revoked with the rest) or
 * sees the revocation (db/tx.ts `serialize`).
 */
export async function lockSignIns(trx: Tx, autodeskId: string): Promise<void> {
  await serialize(trx, `signins:${autodeskId}`);
}

/** Marks a token used; false when another request used it first. */
export async function useRefreshToken(db: Kysely<DB>, tokenHash: string, nowIso: string): Promise<boolean> {
  const r = await db
    .updateTable('refresh_tokens')
    .set({ used_at: nowIso })
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Records a revocation; returns its seq. */
export async function insertRevocation(db: Kysely<DB>, r: Omit<TokenRevocationsTable, 'seq'>): Promise<number> {
  const row = await db.insertInto('token_revocations').values(r).returning('seq').executeTakeFirstOrThrow();
  return Number(row.seq);
}

/** Revocations after `seq`, and those of `also`, that still matter: made since `sinceIso` (older ones outlived every access token). */
export async function revocationsAfter(
  db: Kysely<DB>,
  seq: number,
  also: readonly number[],
  sinceIso: string,
): Promise<{ seq: number; kind: 'family' | 'user'; subject: string; at: string }[]> {
  const rows = await db
    .selectFrom('token_revocations')
    .selectAll()
    .where((eb) => (also.length === 0 ? eb('seq', '>', seq) : eb.or([eb('seq', '>', seq), eb('seq', 'in', [...also])])))
    .where('at', '>=', sinceIso)
    .orderBy('seq')
    .execute();
  return rows.map((r) => ({ ...r, seq: Number(r.seq) }));
}

export async function lastRevocationSeq(db: Kysely<DB>): Promise<number> {
  const row = await db
    .selectFrom('token_revocations')
    .select((eb) => eb.fn.max('seq').as('seq'))
    .executeTakeFirst();
  return Number(row?.seq ?? 0);
}

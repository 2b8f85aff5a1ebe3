import type { Kysely } from 'kysely';
import type { DB, RefreshTokensTable, TokenRevocationsTable } from '../schema';

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
  const revoked = await db
    .selectFrom('token_revocations')
    .select('seq')
    .where((eb) =>
      eb.or([
        eb.and([eb('kind', '=', 'family'), eb('subject', '=', row.family)]),
        eb.and([eb('kind', '=', 'user'), eb('subject', '=', row.autodesk_id), eb('at', '>=', row.created_at)]),
      ]),
    )
    .executeTakeFirst();
  return { ...row, familyRevoked: revoked !== undefined };
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

export async function insertRevocation(db: Kysely<DB>, r: Omit<TokenRevocationsTable, 'seq'>): Promise<void> {
  await db.insertInto('token_revocations').values(r).execute();
}

/** Revocations after `seq` that still matter: made since `sinceIso` (older ones outlived every access token). */
export async function revocationsAfter(
  db: Kysely<DB>,
  seq: number,
  sinceIso: string,
): Promise<{ seq: number; kind: 'family' | 'user'; subject: string; at: string }[]> {
  const rows = await db
    .selectFrom('token_revocations')
    .selectAll()
    .where('seq', '>', seq)
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

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

/** Whether the sign-in of a refresh token made at `created_at` was ended: its family, or its user since. */
export async function isRevoked(db: Kysely<DB>, row: Pick<RefreshTokensTable, 'family' | 'autodesk_id' | 'created_at'>): Promise<boolean> {
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
  return revoked !== undefined;
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

import type { Kysely } from 'kysely';
import type { IssuedAllowance, IssuedProduct } from '../../domain/allowance';
import type { DB } from '../schema';

export async function insertAllowance(db: Kysely<DB>, a: IssuedAllowance & { machine: string | null }): Promise<void> {
  await db
    .insertInto('offline_allowances')
    .values({
      id: a.id,
      autodesk_id: a.autodeskId,
      machine: a.machine,
      issued_at: a.issuedAt,
      expires_at: a.expiresAt,
      launches: a.launches,
      products: JSON.stringify(a.products),
    })
    .execute();
}

export async function findAllowance(db: Kysely<DB>, id: string): Promise<IssuedAllowance | undefined> {
  const row = await db.selectFrom('offline_allowances').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    autodeskId: row.autodesk_id,
    issuedAt: row.issued_at,
    expiresAt: row.expires_at,
    launches: Number(row.launches),
    products: JSON.parse(row.products) as IssuedProduct[],
  };
}

/** Drops a user's allowances that ended before `beforeIso`: no report may name them any more. */
export async function dropAllowancesEndedBefore(db: Kysely<DB>, autodeskId: string, beforeIso: string): Promise<void> {
  await db.deleteFrom('offline_allowances').where('autodesk_id', '=', autodeskId).where('expires_at', '<', beforeIso).execute();
}

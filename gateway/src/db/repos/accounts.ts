import type { Kysely } from 'kysely';
import type { DB } from '../schema';

export interface AccountRow {
  autodeskId: string;
  name: string;
  passwordHash: string;
}

export async function findAccount(db: Kysely<DB>, autodeskId: string): Promise<AccountRow | null> {
  const row = await db.selectFrom('accounts').selectAll().where('autodesk_id', '=', autodeskId).executeTakeFirst();
  return row ? { autodeskId: row.autodesk_id, name: row.name, passwordHash: row.password_hash } : null;
}

/** Which of these Autodesk IDs have an account. */
export async function existingAccounts(db: Kysely<DB>, autodeskIds: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < autodeskIds.length; i += 500) {
    const rows = await db
      .selectFrom('accounts')
      .select('autodesk_id')
      .where('autodesk_id', 'in', autodeskIds.slice(i, i + 500))
      .execute();
    for (const r of rows) out.add(r.autodesk_id);
  }
  return out;
}

/** Returns false when the Autodesk ID already has an account. */
export async function insertAccount(db: Kysely<DB>, a: AccountRow & { createdAt: string }): Promise<boolean> {
  const res = await db
    .insertInto('accounts')
    .values({ autodesk_id: a.autodeskId, name: a.name, password_hash: a.passwordHash, created_at: a.createdAt })
    .onConflict((oc) => oc.column('autodesk_id').doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
}

import type { Kysely } from 'kysely';
import type { DB, SessionRow } from '../schema';
import type { Tx } from '../tx';

/**
 * The session that answers a launch of (user, product) at `atIso`: not closed, started by then
 * and not yet over. When windows overlap (a provisional launch reported late), the one that runs
 * longest answers, so no instant is charged twice.
 */
export async function openSession(
  db: Kysely<DB>,
  autodeskId: string,
  product: string,
  atIso: string,
): Promise<SessionRow | undefined> {
  return db
    .selectFrom('usage_sessions')
    .selectAll()
    .where('autodesk_id', '=', autodeskId)
    .where('product_key', '=', product)
    .where('ended_at', 'is', null)
    .where('ends_at', '>', atIso)
    .where('starts_at', '<=', atIso)
    .orderBy('ends_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}

export async function lastSeq(trx: Tx, autodeskId: string, product: string): Promise<number> {
  const row = await trx
    .selectFrom('usage_sessions')
    .select((eb) => eb.fn.max('seq').as('seq'))
    .where('autodesk_id', '=', autodeskId)
    .where('product_key', '=', product)
    .executeTakeFirst();
  return Number(row?.seq ?? 0);
}

export async function findSession(db: Kysely<DB>, id: string): Promise<SessionRow | undefined> {
  return db.selectFrom('usage_sessions').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findProvisional(db: Kysely<DB>, autodeskId: string, provisionalId: string): Promise<SessionRow | undefined> {
  return db
    .selectFrom('usage_sessions')
    .selectAll()
    .where('autodesk_id', '=', autodeskId)
    .where('provisional_id', '=', provisionalId)
    .executeTakeFirst();
}

export async function insertSession(trx: Tx, row: SessionRow): Promise<void> {
  await trx.insertInto('usage_sessions').values(row).execute();
}

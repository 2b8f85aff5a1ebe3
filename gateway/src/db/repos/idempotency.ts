import type { Kysely } from 'kysely';
import type { DB } from '../schema';
import type { Tx } from '../tx';

export interface StoredAnswer {
  fingerprint: string;
  status: number;
  body: string;
}

export async function findAnswer(db: Kysely<DB>, scope: string, key: string): Promise<StoredAnswer | undefined> {
  return db
    .selectFrom('idempotency_keys')
    .select(['fingerprint', 'status', 'body'])
    .where('scope', '=', scope)
    .where('key', '=', key)
    .executeTakeFirst();
}

/** Stored in the same transaction as the change it answers, so a replay and the change agree. */
export async function storeAnswer(trx: Tx, a: StoredAnswer & { scope: string; key: string; createdAt: string }): Promise<void> {
  await trx
    .insertInto('idempotency_keys')
    .values({ scope: a.scope, key: a.key, fingerprint: a.fingerprint, status: a.status, body: a.body, created_at: a.createdAt })
    .execute();
}

export async function forgetAnswersBefore(db: Kysely<DB>, beforeIso: string): Promise<void> {
  await db.deleteFrom('idempotency_keys').where('created_at', '<', beforeIso).execute();
}

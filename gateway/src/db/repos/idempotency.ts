import type { Kysely } from 'kysely';
import { rowsOf, shaped } from '../compiled';
import { RetryTransaction } from '../errors';
import type { DB } from '../schema';
import type { Tx } from '../tx';

export interface StoredAnswer {
  fingerprint: string;
  status: number;
  body: string;
}

export async function findAnswer(db: Kysely<DB>, scope: string, key: string): Promise<StoredAnswer | undefined> {
  return (await answersOf(db, [{ scope, key }])).get(`${scope}\n${key}`);
}

/** The stored answers of several keys (one statement): `answersOf` runs it, the launch store prepares it for one key. */
export const answersQuery = shaped((db, a: { keys: { scope: string; key: string }[] }) =>
  db
    .selectFrom('idempotency_keys')
    .select(['scope', 'key', 'fingerprint', 'status', 'body'])
    .where((eb) =>
      eb(
        eb.refTuple('scope', 'key'),
        'in',
        a.keys.map((k) => eb.tuple(k.scope, k.key)),
      ),
    ),
);

/** The stored answers of several keys, by `scope\nkey`. */
export async function answersOf(db: Kysely<DB>, keys: readonly { scope: string; key: string }[]): Promise<Map<string, StoredAnswer>> {
  if (keys.length === 0) return new Map();
  const rows = await rowsOf(db, answersQuery, { keys: keys.map((k) => ({ scope: k.scope, key: k.key })) });
  return new Map(rows.map((r) => [`${r.scope}\n${r.key}`, { fingerprint: r.fingerprint, status: r.status, body: r.body }]));
}

type AnswerRow = { scope: string; key: string; fingerprint: string; status: number; body: string; created_at: string };

const insertAnswers = shaped((db, a: { rows: AnswerRow[] }) =>
  db
    .insertInto('idempotency_keys')
    .values(a.rows)
    .onConflict((oc) => oc.columns(['scope', 'key']).doNothing()),
);

/**
 * Stores the answers of a group in the transaction that made them, each only if its key is still
 * free; returns how many were stored. Fewer means another transaction answered one of these keys
 * first (it committed, or this insert waited for it): the caller starts over and replays it.
 */
export async function storeAnswers(
  trx: Tx,
  answers: readonly (StoredAnswer & { scope: string; key: string; createdAt: string })[],
): Promise<number> {
  if (answers.length === 0) return 0;
  const rows = answers.map((a) => ({
    scope: a.scope,
    key: a.key,
    fingerprint: a.fingerprint,
    status: a.status,
    body: a.body,
    created_at: a.createdAt,
  }));
  const res = await trx.executeQuery(insertAnswers(trx, { rows }));
  return Number(res.numAffectedRows ?? 0);
}

/** Stored in the same transaction as the change it answers, so a replay and the change agree; a key taken meanwhile starts it over. */
export async function storeAnswer(trx: Tx, a: StoredAnswer & { scope: string; key: string; createdAt: string }): Promise<void> {
  if ((await storeAnswers(trx, [a])) !== 1) throw new RetryTransaction(`Idempotency-Key ${a.key} answered meanwhile`);
}

export async function forgetAnswersBefore(db: Kysely<DB>, beforeIso: string): Promise<void> {
  await db.deleteFrom('idempotency_keys').where('created_at', '<', beforeIso).execute();
}

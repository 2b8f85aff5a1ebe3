import { type Kysely, PostgresAdapter, sql } from 'kysely';
import { shaped } from '../compiled';
import { known, type Read, read, readOne } from '../reads';
import type { DB } from '../schema';
import type { Tx } from '../tx';
import { type Write, writeAll } from '../writes';

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
  return readOne(db, answersRead(db, keys));
}

/** `answersOf` as a read to send with others (`readAll`). */
export function answersRead(db: Kysely<DB>, keys: readonly { scope: string; key: string }[]): Read<Map<string, StoredAnswer>> {
  if (keys.length === 0) return known(new Map());
  return read(
    answersQuery(db, { keys: keys.map((k) => ({ scope: k.scope, key: k.key })) }),
    (rows) => new Map(rows.map((r) => [`${r.scope}\n${r.key}`, { fingerprint: r.fingerprint, status: r.status, body: r.body }])),
  );
}

type AnswerRow = { scope: string; key: string; fingerprint: string; status: number; body: string; created_at: string };

const insertAnswers = shaped((db, a: { rows: AnswerRow[] }) =>
  db
    .insertInto('idempotency_keys')
    .values(a.rows)
    .onConflict((oc) => oc.columns(['scope', 'key']).doNothing()),
);

/**
 * Stores answers in the transaction that made them, each only if its key is still free. Every one
 * must be stored: fewer means another transaction answered one of these keys first (it committed,
 * or this insert waited for it), and this one starts over, to replay it.
 */
export function answersWrites(trx: Tx, answers: readonly (StoredAnswer & { scope: string; key: string; createdAt: string })[]): Write[] {
  if (answers.length === 0) return [];
  const rows = answers.map((a) => ({
    scope: a.scope,
    key: a.key,
    fingerprint: a.fingerprint,
    status: a.status,
    body: a.body,
    created_at: a.createdAt,
  }));
  return [
    { query: insertAnswers(trx, { rows }), expect: { rows: rows.length, lost: 'an Idempotency-Key was answered by another transaction' } },
  ];
}

/** Stored in the same transaction as the change it answers, so a replay and the change agree; a key taken meanwhile starts it over. */
export async function storeAnswer(trx: Tx, a: StoredAnswer & { scope: string; key: string; createdAt: string }): Promise<void> {
  await writeAll(trx, answersWrites(trx, [a]));
}

/**
 * Forgets the answers stored before `beforeIso`; returns how many. On PostgreSQL in one statement,
 * which locks only the rows it deletes (no launch waits on a day-old answer). On SQLite one statement
 * held the only write lock for a scan of the whole table, and every charge waited behind it
 * (BENCHMARKS.md): the table is walked in pages in rowid order, the order answers were stored in,
 * each page's old rows deleted by rowid, until a page holds none. An old answer stored out of
 * order stays until a later sweep: answers are kept for at least a day, not at most.
 */
export async function forgetAnswersBefore(db: Kysely<DB>, beforeIso: string, page = 500): Promise<number> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    return Number((await db.deleteFrom('idempotency_keys').where('created_at', '<', beforeIso).executeTakeFirst()).numDeletedRows);
  }
  const rowid = sql<number>`rowid`;
  let after = 0;
  let forgotten = 0;
  for (;;) {
    const rows = await db
      .selectFrom('idempotency_keys')
      .select([rowid.as('id'), 'created_at'])
      .where(rowid, '>', after)
      .orderBy(rowid)
      .limit(page)
      .execute();
    const old = rows.filter((r) => r.created_at < beforeIso).map((r) => r.id);
    const last = rows[rows.length - 1];
    if (old.length === 0 || !last) return forgotten;
    // Old still: another worker's sweep may have freed a rowid that a new answer then took.
    const res = await db.deleteFrom('idempotency_keys').where(rowid, 'in', old).where('created_at', '<', beforeIso).executeTakeFirst();
    forgotten += Number(res.numDeletedRows);
    if (rows.length < page) return forgotten;
    after = last.id;
    // Launches between two pages: the sweep runs on their connection and thread.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

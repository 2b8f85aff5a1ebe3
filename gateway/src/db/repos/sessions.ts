import type { Kysely } from 'kysely';
import { rowsOf, shaped } from '../compiled';
import type { DB, SessionRow } from '../schema';
import type { Tx } from '../tx';

/**
 * For several (user, product) pairs at once: every session still open at `atIso` and the one with
 * the last seq, in ONE statement. Two reads could straddle another launch's commit under READ
 * COMMITTED (PostgreSQL's default): "nothing open" from before it and "last seq" from after it, and
 * a second session would be inserted next to the open one. One statement sees one snapshot: either
 * the other session shows as open, or an insert of the same seq collides with it. `sessionStateOf`
 * reads a pair's rows at the instant of each launch.
 */
const sessionRowsQuery = shaped((db, a: { pairs: [string, string][]; at: string }) =>
  db
    .selectFrom('usage_sessions as s')
    .selectAll('s')
    .where((eb) =>
      eb.and([
        eb(
          eb.refTuple('s.autodesk_id', 's.product_key'),
          'in',
          a.pairs.map(([user, product]) => eb.tuple(user, product)),
        ),
        eb.or([
          eb.and([eb('s.ended_at', 'is', null), eb('s.ends_at', '>', a.at)]),
          eb(
            's.seq',
            '=',
            eb
              .selectFrom('usage_sessions as m')
              .select((m) => m.fn.max('m.seq').as('max_seq'))
              .whereRef('m.autodesk_id', '=', 's.autodesk_id')
              .whereRef('m.product_key', '=', 's.product_key'),
          ),
        ]),
      ]),
    ),
);

export async function sessionRowsOf(
  db: Kysely<DB>,
  pairs: readonly { autodeskId: string; product: string }[],
  atIso: string,
): Promise<SessionRow[]> {
  if (pairs.length === 0) return [];
  return rowsOf(db, sessionRowsQuery, { pairs: pairs.map((p): [string, string] => [p.autodeskId, p.product]), at: atIso });
}

/**
 * A pair's rows as a launch at `atIso` sees them: the session that answers it (not closed, not over;
 * its start is not compared, since a racing launch may have opened it a few milliseconds "after"
 * this one; when several qualify, the one that runs longest) and the last seq.
 */
export function sessionStateOf(rows: readonly SessionRow[], atIso: string): { open: SessionRow | undefined; lastSeq: number } {
  const open = rows.filter((r) => r.ended_at === null && r.ends_at > atIso).sort((a, b) => (a.ends_at < b.ends_at ? 1 : -1))[0];
  const lastSeq = rows.reduce((m, r) => Math.max(m, Number(r.seq)), 0);
  return { open, lastSeq };
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

/** The sessions a group of charges opened, in one statement; a racing twin collides on (user, product, seq). */
const insertSessionsQuery = shaped((db, a: { rows: SessionRow[] }) => db.insertInto('usage_sessions').values(a.rows));

export async function insertSessions(trx: Tx, rows: readonly SessionRow[]): Promise<void> {
  if (rows.length === 0) return;
  await trx.executeQuery(insertSessionsQuery(trx, { rows: [...rows] }));
}

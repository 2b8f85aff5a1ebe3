import type { Kysely } from 'kysely';
import type { DB, SessionRow } from '../schema';
import type { Tx } from '../tx';

/**
 * The session that answers a launch of (user, product) at `atIso`: not closed and not yet over.
 * Its start is deliberately not compared with `atIso`: a racing launch (or another instance with
 * a slightly different clock) may have opened it a few milliseconds "after" our `now`, and it is
 * still the session of this day. When several qualify, the one that runs longest answers.
 */
export async function openSession(db: Kysely<DB>, autodeskId: string, product: string, atIso: string): Promise<SessionRow | undefined> {
  return db
    .selectFrom('usage_sessions')
    .selectAll()
    .where('autodesk_id', '=', autodeskId)
    .where('product_key', '=', product)
    .where('ended_at', 'is', null)
    .where('ends_at', '>', atIso)
    .orderBy('ends_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/**
 * For several (user, product) pairs at once: every session still open at `atIso` and the one with
 * the last seq, in ONE statement (one snapshot, as `sessionState` below explains). `sessionStateOf`
 * reads a pair's rows at the instant of each launch.
 */
export async function sessionRowsOf(
  db: Kysely<DB>,
  pairs: readonly { autodeskId: string; product: string }[],
  atIso: string,
): Promise<SessionRow[]> {
  if (pairs.length === 0) return [];
  return db
    .selectFrom('usage_sessions as s')
    .selectAll('s')
    .where((eb) =>
      eb.and([
        eb(
          eb.refTuple('s.autodesk_id', 's.product_key'),
          'in',
          pairs.map((p) => eb.tuple(p.autodeskId, p.product)),
        ),
        eb.or([
          eb.and([eb('s.ended_at', 'is', null), eb('s.ends_at', '>', atIso)]),
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
    )
    .execute();
}

/**
 * The open session (if any) and the last seq of (user, product), read in ONE statement. Two
 * separate reads could straddle another launch's commit under READ COMMITTED (PostgreSQL's
 * default): "nothing open" from before it and "last seq" from after it, and then a second
 * session would be inserted next to the open one. One statement sees one snapshot, so either
 * the other session is visible as open, or our insert of the same seq collides with it.
 */
export async function sessionState(
  trx: Tx,
  autodeskId: string,
  product: string,
  atIso: string,
): Promise<{ open: SessionRow | undefined; lastSeq: number }> {
  const rows = await trx
    .selectFrom('usage_sessions as s')
    .selectAll('s')
    .where('s.autodesk_id', '=', autodeskId)
    .where('s.product_key', '=', product)
    .where((eb) =>
      eb.or([
        eb.and([eb('s.ended_at', 'is', null), eb('s.ends_at', '>', atIso)]),
        eb(
          's.seq',
          '=',
          eb
            .selectFrom('usage_sessions as m')
            .select((m) => m.fn.max('m.seq').as('max_seq'))
            .where('m.autodesk_id', '=', autodeskId)
            .where('m.product_key', '=', product),
        ),
      ]),
    )
    .execute();
  return sessionStateOf(rows, atIso);
}

/** The rows of the session-state statement (open ones and the last seq) read as `sessionState` answers. */
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
export async function insertSessions(trx: Tx, rows: readonly SessionRow[]): Promise<void> {
  if (rows.length === 0) return;
  await trx
    .insertInto('usage_sessions')
    .values([...rows])
    .execute();
}

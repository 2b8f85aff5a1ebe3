import type { Kysely } from 'kysely';
import type { MachineState } from '../../domain/sessions';
import { rowsOf, shaped } from '../compiled';
import { known, type Read, read, readOne } from '../reads';
import type { DB, SessionRow } from '../schema';
import type { Tx } from '../tx';
import { type Write, writeAll } from '../writes';

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
  return readOne(db, sessionRowsRead(db, pairs, atIso));
}

/** `sessionRowsOf` as a read to send with others (`readAll`). */
export function sessionRowsRead(
  db: Kysely<DB>,
  pairs: readonly { autodeskId: string; product: string }[],
  atIso: string,
): Read<SessionRow[]> {
  if (pairs.length === 0) return known([]);
  return read(sessionRowsQuery(db, { pairs: pairs.map((p): [string, string] => [p.autodeskId, p.product]), at: atIso }), (rows) => rows);
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
  await writeAll(trx, sessionsWrites(trx, rows));
}

/** The write of `insertSessions`, for a transaction that sends it with others (`writeAll`). */
export function sessionsWrites(trx: Tx, rows: readonly SessionRow[]): Write[] {
  return rows.length === 0 ? [] : [{ query: insertSessionsQuery(trx, { rows: [...rows] }) }];
}

const machinesQuery = shaped((db, a: { sessions: string[] }) =>
  db.selectFrom('session_machines').select(['session_id', 'machine', 'ended_at']).where('session_id', 'in', a.sessions),
);

/** The rows of `session_machines` of several sessions, in one statement (R7a). */
export async function machinesOfSessions(db: Kysely<DB>, sessionIds: readonly string[]): Promise<Map<string, MachineState[]>> {
  const out = new Map<string, MachineState[]>(sessionIds.map((id) => [id, []]));
  if (sessionIds.length === 0) return out;
  const rows = await rowsOf(db, machinesQuery, { sessions: [...new Set(sessionIds)] });
  for (const r of rows) out.get(r.session_id)?.push({ machine: r.machine, endedAt: r.ended_at });
  return out;
}

/**
 * Takes the session's row lock, if the session is not void: every close and every machine
 * recorded for one session then run one after the other (PostgreSQL; SQLite has one writer).
 * False when the session was voided.
 */
export async function lockLiveSession(trx: Tx, id: string, nowIso: string): Promise<boolean> {
  const r = await trx
    .updateTable('usage_sessions')
    .set({ last_seen_at: nowIso })
    .where('id', '=', id)
    .where('ended_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** R7a: `machine` uses the session (again: a machine that closed and came back counts as running). */
export async function markMachineRunning(trx: Tx, id: string, machine: string): Promise<void> {
  await trx
    .insertInto('session_machines')
    .values({ session_id: id, machine, ended_at: null })
    .onConflict((oc) => oc.columns(['session_id', 'machine']).doUpdateSet({ ended_at: null }))
    .execute();
}

/** R7a: `machine` closed the product within the free window. */
export async function markMachineClosed(trx: Tx, id: string, machine: string, nowIso: string): Promise<void> {
  await trx
    .insertInto('session_machines')
    .values({ session_id: id, machine, ended_at: nowIso })
    .onConflict((oc) => oc.columns(['session_id', 'machine']).doUpdateSet({ ended_at: nowIso }))
    .execute();
}

/**
 * R7a: settles the day, once: the session is no longer refundable and its entitlement runs to its
 * end. Guarded, so that of a settle and a refund racing only one applies. False when the session
 * was settled or voided meanwhile.
 */
export async function settleSession(
  db: Kysely<DB>,
  s: { id: string; settledAt: string; entitlement: string; entitlementExp: string },
): Promise<boolean> {
  const r = await db
    .updateTable('usage_sessions')
    .set({ settled_at: s.settledAt, entitlement: s.entitlement, entitlement_exp: s.entitlementExp })
    .where('id', '=', s.id)
    .where('settled_at', 'is', null)
    .where('ended_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** R7b: the session ends later (idle time), with its entitlement to the new end; false when it changed meanwhile. */
export async function extendSession(
  db: Kysely<DB>,
  s: { id: string; fromEndsAt: string; endsAt: string; entitlement: string; entitlementExp: string; lastSeenAt: string },
): Promise<boolean> {
  const r = await db
    .updateTable('usage_sessions')
    .set({ ends_at: s.endsAt, entitlement: s.entitlement, entitlement_exp: s.entitlementExp, last_seen_at: s.lastSeenAt })
    .where('id', '=', s.id)
    .where('ends_at', '=', s.fromEndsAt)
    .where('ended_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** R7a's cap: when another session of (user, product) was last voided by a quick close, if ever. */
export async function lastRefundOf(trx: Tx, autodeskId: string, product: string, exceptId: string): Promise<string | null> {
  const row = await trx
    .selectFrom('usage_sessions')
    .select((eb) => eb.fn.max('ended_at').as('last'))
    .where('autodesk_id', '=', autodeskId)
    .where('product_key', '=', product)
    .where('ended_at', 'is not', null)
    .where('id', '<>', exceptId)
    .executeTakeFirst();
  return row?.last ?? null;
}

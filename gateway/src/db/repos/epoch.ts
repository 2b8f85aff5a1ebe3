import { type ExpressionBuilder, type Kysely, sql } from 'kysely';
import { shaped } from '../compiled';
import { type Read, read, readOne } from '../reads';
import type { DB } from '../schema';

/** `access_epoch.v` (migration 006), as a builder both queries below use. */
const epochOf = (db: Kysely<DB>) => db.selectFrom('access_epoch').select('v').where('id', '=', sql.lit(1));

const epochQuery = shaped((db, _a: Record<string, never>) => epochOf(db));

/** The access epoch: read BEFORE the facts it will vouch for, never after. */
export async function accessEpoch(db: Kysely<DB>): Promise<number> {
  return readOne(db, epochRead(db));
}

/** `accessEpoch` as a read to send with others (`readAll`): in one statement, it and they share one snapshot. */
export function epochRead(db: Kysely<DB>): Read<number> {
  return read(epochQuery(db, {}), ([row]) => Number(row?.v ?? 0));
}

/** What a cached warm launch must read again each time: whether it still holds, and the balance. */
export interface Recheck {
  epoch: number;
  /** The session is still open (not ended or voided; its end time is checked by the caller). */
  open: boolean;
  balance: number;
  /** When the next of the team's lots expires (the balance drops then without any write), if any. */
  nextExpiry: string | null;
  /** Not settled yet, and a machine of it closed (R7a): a relaunch must go where it is recorded again. */
  machineClosed: boolean;
}

/** A recheck's row for one session: gone (no row), ended, or open with its team's balance now. */
export type RecheckRow = {
  id: string;
  epoch: number | null;
  open: boolean | number;
  balance: number | string | null;
  next_expiry: string | null;
  machine_closed: boolean | number | null;
};

/**
 * What cached warm launches must read again (one statement, one snapshot, for any number of
 * sessions): the epoch, whether each session is still open, its team's balance with the next
 * expiry, and, until it is settled, whether one of its machines closed. PostgreSQL runs it for the warm launches of a turn together; SQLite prepares its
 * one-session shape once and runs it without a promise (launch/store.ts).
 */
export const recheckSessions = shaped((db, a: { sessions: string[]; now: string }) => {
  const now = a.now;
  const valid = (eb: ExpressionBuilder<DB & { s: DB['usage_sessions'] }, 's'>) =>
    eb.selectFrom('lots as l').whereRef('l.team_id', '=', 's.team_id').where('l.expires_at', '>', now);
  return db
    .selectFrom('usage_sessions as s')
    .select((eb) => [
      's.id',
      epochOf(db).as('epoch'),
      eb('s.ended_at', 'is', null).as('open'),
      valid(eb)
        .select((l) => l.fn.sum<number>('l.remaining').as('b'))
        .as('balance'),
      valid(eb)
        .select((l) => l.fn.min('l.expires_at').as('e'))
        .as('next_expiry'),
      // Only until the day is settled: a settled session's recheck reads nothing more.
      eb
        .case()
        .when('s.settled_at', 'is', null)
        .then(
          eb.exists(
            eb
              .selectFrom('session_machines as m')
              .select('m.machine')
              .whereRef('m.session_id', '=', 's.id')
              .where('m.ended_at', 'is not', null),
          ),
        )
        .else(sql.lit(false))
        .end()
        .as('machine_closed'),
    ])
    .where('s.id', 'in', a.sessions);
});

/** A row of `recheckSessions` (none: the session is gone) as a Recheck. */
export function recheckOf(row: RecheckRow | undefined): Recheck {
  return {
    epoch: row?.epoch === null || row?.epoch === undefined ? -1 : Number(row.epoch),
    open: row?.open === true || row?.open === 1,
    balance: Number(row?.balance ?? 0),
    nextExpiry: row?.next_expiry ?? null,
    machineClosed: row?.machine_closed === true || row?.machine_closed === 1,
  };
}

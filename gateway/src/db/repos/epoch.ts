import { type Kysely, sql } from 'kysely';
import { type Compiled, compileOnce } from '../compiled';
import type { DB } from '../schema';

/** `access_epoch.v` (migration 006), as a builder both queries below use. */
const epochOf = (db: Kysely<DB>) => db.selectFrom('access_epoch').select('v').where('id', '=', sql.lit(1));

/** The access epoch: read BEFORE the facts it will vouch for, never after. */
export async function accessEpoch(db: Kysely<DB>): Promise<number> {
  const row = await epochOf(db).executeTakeFirst();
  return Number(row?.v ?? 0);
}

/** What a cached warm launch must read again each time: whether it still holds, and the balance. */
export interface Recheck {
  epoch: number;
  /** The session is still open (not ended or voided; its end time is checked by the caller). */
  open: boolean;
  balance: number;
  /** When the next of the team's lots expires (the balance drops then without any write), if any. */
  nextExpiry: string | null;
}

type RecheckParams = { sessionId: string; teamId: string; now: string };
type RecheckRow = { epoch: number | null; open: boolean | number; balance: number | string | null; next_expiry: string | null };

/**
 * A cached warm launch's one statement (one snapshot): the epoch, whether the session is still
 * open, and the team's balance with its next expiry. Compiled once; the engine runs it prepared
 * (SQLite) or as one round trip (PostgreSQL).
 */
export function recheckQuery(db: Kysely<DB>): Compiled<RecheckParams, RecheckRow> {
  return compileOnce<RecheckParams, RecheckRow>(db, (d, p) =>
    d
      .selectFrom((eb) =>
        eb
          .selectFrom('lots')
          .select((l) => [l.fn.sum<number>('remaining').as('balance'), l.fn.min('expires_at').as('next_expiry')])
          .where('team_id', '=', p.teamId)
          .where('expires_at', '>', p.now)
          .as('b'),
      )
      .select((eb) => [
        epochOf(d).as('epoch'),
        eb
          .exists(eb.selectFrom('usage_sessions').select(sql.lit(1).as('one')).where('id', '=', p.sessionId).where('ended_at', 'is', null))
          .as('open'),
        'b.balance',
        'b.next_expiry',
      ]),
  );
}

export function recheckOf(row: RecheckRow | undefined): Recheck {
  return {
    epoch: row?.epoch === null || row?.epoch === undefined ? -1 : Number(row.epoch),
    open: row?.open === true || row?.open === 1,
    balance: Number(row?.balance ?? 0),
    nextExpiry: row?.next_expiry ?? null,
  };
}

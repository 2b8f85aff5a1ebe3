import { type Kysely, sql } from 'kysely';
import type { Recheck } from '../hot';
import type { DB } from '../schema';

/** The access epoch (migration 006): read BEFORE the facts it will vouch for, never after. */
export async function accessEpoch(db: Kysely<DB>): Promise<number> {
  const row = await db.selectFrom('access_epoch').select('v').where('id', '=', 1).executeTakeFirst();
  return row?.v ?? 0;
}

/**
 * A cached warm launch's one round trip (PostgreSQL; SQLite has a prepared twin in db/hot.ts):
 * the epoch, whether the session is still open, and the team's balance, in one statement so
 * they come from one snapshot.
 */
export async function recheckLaunch(db: Kysely<DB>, sessionId: string, teamId: string, nowIso: string): Promise<Recheck> {
  const { rows } = await sql<{ epoch: number; open: boolean | number; balance: number | string | null; next_expiry: string | null }>`
    select (select v from access_epoch where id = 1) as epoch,
           exists (select 1 from usage_sessions where id = ${sessionId} and ended_at is null) as open,
           b.balance, b.next_expiry
      from (select sum(remaining) as balance, min(expires_at) as next_expiry from lots where team_id = ${teamId} and expires_at > ${nowIso}) b`.execute(
    db,
  );
  const r = rows[0];
  return {
    epoch: r?.epoch ?? -1,
    open: r?.open === true || r?.open === 1,
    balance: Number(r?.balance ?? 0),
    nextExpiry: r?.next_expiry ?? null,
  };
}

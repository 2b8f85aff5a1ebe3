import { type Kysely, sql } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * Leases and machine-aware sessions (R7a):
 * - `usage_sessions.settled_at`: when the day was settled (no refund from then on; the stored
 *   entitlement runs to the session's end). Sessions opened before leases were signed to their end
 *   already, so they count as settled: a refund now would leave that entitlement alive.
 * - `session_machines`: the machines that used a session within its free window, and when each
 *   closed; the machine that opened it gets a row only once it closes or comes back.
 * - The daily usage rollups are rebuilt so that a refund counts on the day of the charge it
 *   reverses (R15), as `appendLedger` keeps them from now on.
 */
export async function up(db: AnyDB, _engine: Engine): Promise<void> {
  await db.schema.alterTable('usage_sessions').addColumn('settled_at', 'text').execute();
  await sql`update usage_sessions set settled_at = starts_at where ended_at is null`.execute(db);
  await db.schema
    .createTable('session_machines')
    .addColumn('session_id', 'text', (c) => c.notNull().references('usage_sessions.id'))
    .addColumn('machine', 'text', (c) => c.notNull())
    .addColumn('ended_at', 'text')
    .addPrimaryKeyConstraint('session_machines_pk', ['session_id', 'machine'])
    .execute();
  await rebuildUsage(db);
}

/** Both daily rollups again from the ledger, each refund on its charge's day (its session's start). */
export async function rebuildUsage(db: AnyDB): Promise<void> {
  const day = sql`substr(case when l.kind = 'refund' then coalesce(s.starts_at, l.at) else l.at end, 1, 10)`;
  for (const [table, column] of [
    ['usage_day_product', 'product_key'],
    ['usage_day_user', 'autodesk_id'],
  ] as const) {
    await sql`delete from ${sql.table(table)}`.execute(db);
    await sql`
      insert into ${sql.table(table)} (team_id, day, ${sql.ref(column)}, tokens, sessions)
      select l.team_id, ${day}, l.${sql.ref(column)}, -sum(l.delta),
        count(distinct case when l.kind = 'charge' then l.session_id end) - count(distinct case when l.kind = 'refund' then l.session_id end)
      from ledger l left join usage_sessions s on s.id = l.session_id
      where l.kind in ('charge', 'refund') and l.${sql.ref(column)} is not null
      group by l.team_id, ${day}, l.${sql.ref(column)}
    `.execute(db);
  }
}

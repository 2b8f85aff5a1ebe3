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
}


import type { Kysely } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * Admin console: browser sessions live in the database, not in one process's memory, so
 * any gateway instance behind a load balancer recognises the cookie. Only a hash of the session id
 * is stored: a copy of the table does not let anyone sign in.
 */
export async function up(db: AnyDB, _engine: Engine): Promise<void> {
  await db.schema
    .createTable('console_sessions')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('admin_id', 'text', (c) => c.notNull().references('admins.id').onDelete('cascade'))
    .addColumn('csrf', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('console_sessions_by_expiry').on('console_sessions').column('expires_at').execute();
}

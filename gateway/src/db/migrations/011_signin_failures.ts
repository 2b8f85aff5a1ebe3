import type { Kysely } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * Failed sign-ins per Autodesk ID, shared by every worker and instance: the growing delay after
 * repeated failures holds however many processes a guesser spreads over (domain/signin.ts).
 */
export async function up(db: AnyDB, _engine: Engine): Promise<void> {
  await db.schema
    .createTable('signin_failures')
    .addColumn('autodesk_id', 'text', (c) => c.primaryKey())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('last_failure_at', 'text', (c) => c.notNull())
    .addColumn('retry_at', 'text')
    .execute();
}

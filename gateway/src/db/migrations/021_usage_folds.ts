import type { Kysely } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * The usage rollups (daily by product and by user, migration 005; monthly by user and product,
 * 019) are folded from the ledger after the fact (db/repos/usage-fold.ts) instead of being written
 * by every charge: `usage_folds` keeps, per team, the last ledger id folded in. The rollups are
 * emptied and folded anew from the first entry; that also moves the refunds that 005's and 019's
 * backfills counted on their own day into their charge's day, as the fold and the reports do.
 */
export async function up(db: AnyDB, _engine: Engine): Promise<void> {
  await db.schema
    .createTable('usage_folds')
    .addColumn('team_id', 'text', (c) => c.primaryKey())
    .addColumn('folded_id', 'bigint', (c) => c.notNull())
    .execute();
  for (const table of ['usage_day_product', 'usage_day_user', 'usage_month']) await db.deleteFrom(table).execute();
}

import type { Kysely } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * `ledger_by_lot` goes. No query reads the ledger by lot (lots are joined from the
 * ledger, by their own key), and lots are never deleted nor re-keyed, so foreign-key checks never
 * look a lot's entries up either; yet every charge wrote to it. The ledger keeps its rowid order,
 * `ledger_by_team`, `ledger_by_team_kind_at` and `ledger_by_session`.
 */
export async function up(db: AnyDB, _engine: Engine): Promise<void> {
  await db.schema.dropIndex('ledger_by_lot').ifExists().execute();
}

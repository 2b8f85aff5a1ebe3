import type { Kysely } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * The ledger's indexes:
 * - `ledger_by_session`: a product closed within 5 minutes is refunded from its session's ledger
 *   entries (R7a, `sessionCharges`). Without it that read scanned the whole ledger inside the write
 *   transaction, every charge waiting (BENCHMARKS.md, Large data).
 * - `ledger_by_team_at` goes: every query on a team's ledger by time also names the kinds it wants
 *   (usage, movements), which `ledger_by_team_kind_at` serves, and every charge paid for both.
 */
export async function up(db: AnyDB, _engine: Engine): Promise<void> {
  await db.schema.createIndex('ledger_by_session').ifNotExists().on('ledger').column('session_id').execute();
  await db.schema.dropIndex('ledger_by_team_at').ifExists().execute();
}

import type { Kysely } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * Indexes for what runs on every charge and every report over a large ledger.
 * - ledger (team_id, kind, at): the alert check sums a team's transfer-out entries on every
 *   charge, and usage reports read charges and refunds over a date range; without it both scan
 *   every entry of the team (a million of them in the large-data benchmark).
 */
export async function up(db: AnyDB, _engine: Engine): Promise<void> {
  await db.schema.createIndex('ledger_by_team_kind_at').ifNotExists().on('ledger').columns(['team_id', 'kind', 'at']).execute();
}

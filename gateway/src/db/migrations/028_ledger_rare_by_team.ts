import { type Kysely, sql } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * `ledger_rare_by_team`: a team's entries of every kind but charges, by kind in id order, for the
 * ledger's kind filter (`ledgerPage`), which otherwise walks the whole team to find a rare kind.
 * Partial, so a charge (the launch's ledger write, nearly every entry) never writes it: only
 * purchases, refunds, transfers and expiries do. Its term is written literally in the query, as
 * SQLite only takes a partial index whose term the query's WHERE holds as written.
 *
 * The user filter needs no index: every entry naming a user (charges and refunds) is reached
 * through that user's sessions (`usage_sessions_one_at_a_time`, then `ledger_by_session`).
 * Figures: BENCHMARKS.md, session 48.
 */
export async function up(db: AnyDB, _engine: Engine): Promise<void> {
  await db.schema
    .createIndex('ledger_rare_by_team')
    .ifNotExists()
    .on('ledger')
    .columns(['team_id', 'kind', 'id'])
    .where(sql<boolean>`kind <> 'charge'`)
    .execute();
}

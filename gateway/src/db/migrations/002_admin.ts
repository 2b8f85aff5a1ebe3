import { type Kysely, sql } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/** Team administration: the mail sender's retry schedule and the reports' indexes. */
export async function up(db: AnyDB, _engine: Engine): Promise<void> {
  // When the background sender may try a message next: backoff after a failure, a lease while sending.
  await db.schema.alterTable('outbox').addColumn('next_attempt_at', 'text').execute();
  await db.schema
    .createIndex('outbox_pending')
    .on('outbox')
    .columns(['next_attempt_at', 'id'])
    .where(sql.ref('sent_at'), 'is', null)
    .execute();
  // Usage reports read a team's charges and refunds over a date range (R15).
  await db.schema.createIndex('ledger_by_team_kind_at').on('ledger').columns(['team_id', 'kind', 'at']).execute();
  await db.schema.createIndex('members_by_team_status').on('members').columns(['team_id', 'status']).execute();
}

import { type Kysely, sql } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * `invitations.emailed_at`: when the invitation's e-mail was written to the outbox; null for an
 * import's invitation, whose e-mail is not sent (R14) until an admin sends it. The bulk send
 * (services/send-invitations.ts) finds the ones never e-mailed by it, through a partial index that
 * holds only those.
 *
 * Before this column, an invitation and its e-mail were written in one transaction at the same
 * instant (`created_at` of both), and an import wrote no e-mail at all: an invitation was e-mailed
 * exactly when an invitation e-mail to its address bears its instant (the outbox is never pruned).
 */
export async function up(db: AnyDB, _engine: Engine): Promise<void> {
  await db.schema.alterTable('invitations').addColumn('emailed_at', 'text').execute();
  await sql`update invitations set emailed_at = created_at
    where exists (select 1 from outbox o
      where o.to_addr = invitations.autodesk_id and o.kind = 'invitation' and o.created_at = invitations.created_at)`.execute(db);
  await sql`create index invitations_never_emailed on invitations (team_id, autodesk_id)
    where emailed_at is null and accepted_at is null and superseded_at is null`.execute(db);
}

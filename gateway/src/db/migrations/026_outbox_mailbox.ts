import { type Kysely, sql } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * `outbox.mailbox`: the mailbox an e-mail reaches, its address without the local part's `+tag`
 * (shared/src/address.ts `mailboxOf`). The per-recipient caps (invitations, access e-mails) count
 * e-mails by it, so that `ana+1@x.com`, `ana+2@x.com`, ... are not each a new recipient of `ana@x.com`.
 * Addresses in the outbox are already in the normal form (lower case, NFC), so the tag's removal
 * is all the back-fill does, in SQL of each engine (`instr` on SQLite, `strpos` on PostgreSQL).
 * A row written by an older gateway after this runs has none, and counts for no cap: such an
 * instance stops within seconds of a newer migration (server.ts).
 */
export async function up(db: AnyDB, engine: Engine): Promise<void> {
  await db.schema.alterTable('outbox').addColumn('mailbox', 'text').execute();
  const find = sql.raw(engine === 'postgres' ? 'strpos' : 'instr');
  await sql`update outbox set mailbox = case
      when ${find}(to_addr, '+') > 1 and ${find}(to_addr, '+') < ${find}(to_addr, '@')
        then substr(to_addr, 1, ${find}(to_addr, '+') - 1) || substr(to_addr, ${find}(to_addr, '@'))
      else to_addr end`.execute(db);
  await db.schema.createIndex('outbox_by_mailbox').on('outbox').columns(['mailbox', 'kind', 'created_at']).execute();
}

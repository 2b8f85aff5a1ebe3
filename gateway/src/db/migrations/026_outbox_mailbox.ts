import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * `outbox.mailbox`: the mailbox an e-mail reaches, its address without the local part's `+tag`
 * (shared/src/address.ts `mailboxOf`). The per-recipient caps (invitations, access e-mails) count
 * e-mails by it, so that `ana+1@x.com`, `ana+2@x.com`, ... are not each a new recipient of `ana@x.com`.
 * Addresses in the outbox are already in the normal form (lower case, NFC), so dropping the tag is
 * all there is to do, in SQL of each engine (`instr` on SQLite, `strpos` on PostgreSQL): once for
 * the rows there, and by trigger for a row written without it, by a gateway older than this
 * migration that still runs for a few seconds after it (server.ts): its e-mails count too.
 * 026.test.ts checks both against `mailboxOf`.
 */
export async function up(db: AnyDB, engine: Engine): Promise<void> {
  await db.schema.alterTable('outbox').addColumn('mailbox', 'text').execute();
  const find = sql.raw(engine === 'postgres' ? 'strpos' : 'instr');
  const mailbox = (to: RawBuilder<unknown>) => sql`case
      when ${find}(${to}, '+') > 1 and ${find}(${to}, '+') < ${find}(${to}, '@')
        then substr(${to}, 1, ${find}(${to}, '+') - 1) || substr(${to}, ${find}(${to}, '@'))
      else ${to} end`;
  await sql`update outbox set mailbox = ${mailbox(sql.raw('to_addr'))}`.execute(db);
  await db.schema.createIndex('outbox_by_mailbox').on('outbox').columns(['mailbox', 'kind', 'created_at']).execute();
  if (engine === 'postgres') {
    await sql`
      create function outbox_mailbox() returns trigger language plpgsql as $$
      begin
        if new.mailbox is null then new.mailbox := ${mailbox(sql.raw('new.to_addr'))}; end if;
        return new;
      end $$`.execute(db);
    await sql`create trigger outbox_mailbox before insert on outbox for each row execute function outbox_mailbox()`.execute(db);
    return;
  }
  await sql`create trigger outbox_mailbox after insert on outbox when new.mailbox is null
    begin update outbox set mailbox = ${mailbox(sql.raw('new.to_addr'))} where id = new.id; end`.execute(db);
}

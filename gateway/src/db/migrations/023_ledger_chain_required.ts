import { type Kysely, sql } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * A ledger entry without its place in the chain (`prev_hash`, `hash`) is refused by the database.
 * Every entry this code writes has both; a gateway from before 017 still running on a migrated
 * database (a rolling upgrade) wrote entries without them, which broke the team's chain for good
 * (the ledger is append-only). Such a writer now fails its transaction instead. Entries already
 * written are not checked again (PostgreSQL: NOT VALID), so a database with such a break still
 * starts and `flexgate ledger verify` shows where.
 */
export async function up(db: AnyDB, engine: Engine): Promise<void> {
  if (engine === 'postgres') {
    await sql`alter table ledger add constraint ledger_chained check (prev_hash is not null and hash is not null) not valid`.execute(db);
    return;
  }
  await sql
    .raw(
      `create trigger ledger_chained before insert on ledger when new.prev_hash is null or new.hash is null
       begin select raise(abort, 'a ledger entry needs prev_hash and hash: is a gateway older than its database still running?'); end`,
    )
    .execute(db);
}

import { type Kysely, sql } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * The tables an access decision (R9-R13) is made from. Every committed change to any of them
 * bumps `access_epoch.v` in the same transaction, by trigger, so no service can forget to.
 */
export const ACCESS_TABLES = ['products', 'teams', 'licenses', 'members', 'member_products', 'team_defaults', 'invitations'] as const;

/**
 * The warm-launch cache (launch/warm.ts) keeps decided launches in memory and
 * trusts one only while the epoch it was decided under is still the database's. Every launch
 * reads the epoch (one statement, with the balance), so an admin change committed through any
 * instance reaches the next launch on every instance. A trigger, not application code, keeps
 * the epoch: the rule holds for writes the services of today do not make yet.
 */
export async function up(db: AnyDB, engine: Engine): Promise<void> {
  await db.schema
    .createTable('access_epoch')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('v', 'integer', (c) => c.notNull())
    .execute();
  await db.insertInto('access_epoch').values({ id: 1, v: 0 }).execute();
  if (engine === 'postgres') {
    await sql`
      create function bump_access_epoch() returns trigger language plpgsql as $$
      begin
        update access_epoch set v = v + 1 where id = 1;
        return null;
      end $$`.execute(db);
    for (const table of ACCESS_TABLES) {
      // Once per statement: a 10,000-row member import bumps it once, not 10,000 times.
      await sql`create trigger ${sql.raw(`${table}_access_epoch`)} after insert or update or delete on ${sql.table(table)}
        for each statement execute function bump_access_epoch()`.execute(db);
    }
    return;
  }
  for (const table of ACCESS_TABLES) {
    for (const op of ['insert', 'update', 'delete'] as const) {
      await sql`create trigger ${sql.raw(`${table}_${op}_access_epoch`)} after ${sql.raw(op)} on ${sql.table(table)}
        begin update access_epoch set v = v + 1 where id = 1; end`.execute(db);
    }
  }
}

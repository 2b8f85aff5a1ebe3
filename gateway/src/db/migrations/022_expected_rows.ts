import { type Kysely, sql } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * PostgreSQL: `flexgate_expect(touched, expected, write)` fails the statement it is in when a guarded
 * write touched another number of rows than it must (db/writes.ts). A charge group sends its COMMIT
 * right behind its one write statement, so the check cannot wait for the gateway: the statement
 * fails, the transaction aborts, and the COMMIT behind it rolls back. SQLite checks in the gateway
 * before its commit, as before.
 */
export async function up(db: AnyDB, engine: Engine): Promise<void> {
  if (engine !== 'postgres') return;
  await sql`create function flexgate_expect(touched bigint, expected bigint, write int) returns bigint language plpgsql as $$
    begin
      if touched <> expected then
        raise exception 'write % touched % rows, not %', write, touched, expected using errcode = 'FG001';
      end if;
      return touched;
    end $$`.execute(db);
}

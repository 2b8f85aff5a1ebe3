import { type Kysely, sql } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * PostgreSQL: every committed change a cached warm launch depends on is announced on the
 * `flexgate_changes` channel (launch/coherence.ts listens on one connection per instance), so a
 * warm launch needs no round trip while nothing changed. `access` for migration 006's tables (the
 * epoch's trigger notifies too), `team:<id>` for a team's lots (its balance) and sessions (ended,
 * voided). PostgreSQL sends notifications at commit, in commit order, and folds identical ones of
 * one transaction into one. SQLite needs none of it: every commit is visible in its `-shm` header.
 */
export async function up(db: AnyDB, engine: Engine): Promise<void> {
  if (engine !== 'postgres') return;
  await sql`
    create or replace function bump_access_epoch() returns trigger language plpgsql as $$
    begin
      update access_epoch set v = v + 1 where id = 1;
      perform pg_notify('flexgate_changes', 'access');
      return null;
    end $$`.execute(db);
  await sql`
    create function notify_team_change() returns trigger language plpgsql as $$
    begin
      perform pg_notify('flexgate_changes', 'team:' || coalesce(new.team_id, old.team_id));
      return null;
    end $$`.execute(db);
  for (const table of ['lots', 'usage_sessions']) {
    await sql`create trigger ${sql.raw(`${table}_team_change`)} after insert or update or delete on ${sql.table(table)}
      for each row execute function notify_team_change()`.execute(db);
  }
}

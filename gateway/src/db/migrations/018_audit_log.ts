import { type Kysely, sql } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * The audit trail: one row per admin or operator action, written in the transaction of the change
 * (db/repos/audit.ts). Append-only: triggers refuse every UPDATE and DELETE (and, on PostgreSQL,
 * TRUNCATE), so not even a bug in the gateway can rewrite history. `team_id` is null for actions
 * that concern no team (the catalog, accounts, keys); before/after are JSON texts.
 */
export async function up(db: AnyDB, engine: Engine): Promise<void> {
  const autoId = engine === 'postgres' ? 'bigserial' : 'integer';
  await db.schema
    .createTable('audit_log')
    .addColumn('id', autoId, (c) => c.primaryKey().$call((b) => (engine === 'sqlite' ? b.autoIncrement() : b)))
    .addColumn('team_id', 'text')
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text')
    .addColumn('before', 'text')
    .addColumn('after', 'text')
    .addColumn('request_id', 'text')
    .execute();
  await db.schema.createIndex('audit_log_by_team').on('audit_log').columns(['team_id', 'id']).execute();
  if (engine === 'sqlite') {
    for (const op of ['UPDATE', 'DELETE']) {
      await sql
        .raw(
          `CREATE TRIGGER audit_log_no_${op.toLowerCase()} BEFORE ${op} ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`,
        )
        .execute(db);
    }
  } else {
    await sql`CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$`.execute(db);
    await sql`CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
      FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`.execute(db);
    await sql`CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()`.execute(db);
  }
}

import { DEFAULT_MIGRATION_TABLE, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';
import { ConfigError } from '../config';
import type { Database } from './connect';
import * as m001 from './migrations/001_init';
import * as m002 from './migrations/002_admin';
import * as m003 from './migrations/003_console';
import * as m004 from './migrations/004_perf';
import * as m005 from './migrations/005_usage_rollup';
import * as m006 from './migrations/006_access_epoch';
import * as m007 from './migrations/007_ledger_by_session';
import * as m008 from './migrations/008_drop_ledger_by_lot';
import * as m011 from './migrations/011_signin_failures';
import * as m012 from './migrations/012_refresh_tokens';
import * as m013 from './migrations/013_leases';
import * as m014 from './migrations/014_offline_allowances';
import * as m015 from './migrations/015_trust_root';
import * as m016 from './migrations/016_sent_tokens';
import * as m017 from './migrations/017_ledger_chain';
import * as m018 from './migrations/018_audit_log';
import * as m019 from './migrations/019_spend';
import * as m020 from './migrations/020_rollups_without_rowid';
import * as m021 from './migrations/021_usage_folds';
import * as m022 from './migrations/022_expected_rows';
import * as m023 from './migrations/023_ledger_chain_required';
import * as m024 from './migrations/024_sign_in_order';
import * as m025 from './migrations/025_invitations_emailed';
import * as m026 from './migrations/026_outbox_mailbox';
import * as m027 from './migrations/027_member_name_fold';
import * as m028 from './migrations/028_ledger_rare_by_team';

/**
 * Versioned migrations, in order. Kysely records applied ones in `kysely_migration` and holds a
 * lock while it runs them (an advisory lock on PostgreSQL, the write lock on SQLite), so several
 * instances starting at once apply each migration exactly once; the others wait, then see it done.
 */
const MIGRATIONS: Record<string, { up: typeof m001.up }> = {
  '001_init': m001,
  '002_admin': m002,
  '003_console': m003,
  '004_perf': m004,
  '005_usage_rollup': m005,
  '006_access_epoch': m006,
  '007_ledger_by_session': m007,
  '008_drop_ledger_by_lot': m008,
  '011_signin_failures': m011,
  '012_refresh_tokens': m012,
  '013_leases': m013,
  '014_offline_allowances': m014,
  '015_trust_root': m015,
  '016_sent_tokens': m016,
  '017_ledger_chain': m017,
  '018_audit_log': m018,
  '019_spend': m019,
  '020_rollups_without_rowid': m020,
  '021_usage_folds': m021,
  '022_expected_rows': m022,
  '023_ledger_chain_required': m023,
  '024_sign_in_order': m024,
  '025_invitations_emailed': m025,
  '026_outbox_mailbox': m026,
  '027_member_name_fold': m027,
  '028_ledger_rare_by_team': m028,
};

/** The newest migration this version knows: its schema version, as logs and messages name it. */
export const LATEST_MIGRATION = Object.keys(MIGRATIONS).at(-1) as string;

function provider(database: Database): MigrationProvider {
  const engine = database.engine;
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      return Object.fromEntries(Object.entries(MIGRATIONS).map(([name, m]) => [name, { up: (db) => m.up(db, engine) }]));
    },
  };
}

/** Applies the migrations not applied yet; `upTo` stops after that one (tests build older databases with it). */
export async function migrate(database: Database, upTo?: string): Promise<string[]> {
  const migrator = new Migrator({ db: database.db, provider: provider(database) });
  const { error, results } = upTo === undefined ? await migrator.migrateToLatest() : await migrator.migrateTo(upTo);
  if (error) throw newerDatabase(error) ?? (error instanceof Error ? error : new Error(String(error)));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * Kysely refuses a database that records a migration this code does not have: a newer flexgate
 * migrated it (a downgrade), which the operator fixes by running that version, not a bug to report.
 */
function newerDatabase(error: unknown): ConfigError | undefined {
  const message = error instanceof Error ? error.message : String(error);
  const missing = /previously executed migration (\S+) is missing/.exec(message)?.[1];
  if (missing === undefined) return undefined;
  return new ConfigError([
    `the database was migrated by a newer flexgate (migration ${missing}, unknown to this version): run that version or a newer one`,
  ]);
}

/**
 * Migrations the database records that this version does not know, oldest first: a newer flexgate
 * migrated it. Read while serving (server.ts): a handful of short rows by primary key, no lock.
 */
export async function newerMigrations(database: Database): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from ${sql.table(DEFAULT_MIGRATION_TABLE)} order by name`.execute(database.db);
  return rows.map((r) => r.name).filter((name) => !Object.hasOwn(MIGRATIONS, name));
}

/** The line a serving gateway logs when `newerMigrations` finds some: both schema versions, and what to do. */
export function newerWhileServing(newer: readonly string[]): string {
  const which = newer.length === 1 ? `migration ${newer[0]}` : `migrations ${newer.join(', ')}`;
  return `the database was migrated by a newer flexgate while this one served (${which}, unknown to this version, whose newest is ${LATEST_MIGRATION}): it stops taking requests, finishes those in flight and exits 3; replace it with that version or a newer one`;
}

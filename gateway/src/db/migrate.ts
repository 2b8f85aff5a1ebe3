import { type Migration, type MigrationProvider, Migrator } from 'kysely';
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

/**
 * Versioned migrations, in order. Kysely records applied ones in `kysely_migration` and holds a
 * lock while it runs them (an advisory lock on PostgreSQL, the write lock on SQLite), so several
 * instances starting at once apply each migration exactly once; the others wait, then see it done.
 */
function provider(database: Database): MigrationProvider {
  const engine = database.engine;
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      return {
        '001_init': { up: (db) => m001.up(db, engine) },
        '002_admin': { up: (db) => m002.up(db, engine) },
        '003_console': { up: (db) => m003.up(db, engine) },
        '004_perf': { up: (db) => m004.up(db, engine) },
        '005_usage_rollup': { up: (db) => m005.up(db, engine) },
        '006_access_epoch': { up: (db) => m006.up(db, engine) },
        '007_ledger_by_session': { up: (db) => m007.up(db, engine) },
        '008_drop_ledger_by_lot': { up: (db) => m008.up(db, engine) },
        '011_signin_failures': { up: (db) => m011.up(db, engine) },
        '012_refresh_tokens': { up: (db) => m012.up(db, engine) },
        '013_leases': { up: (db) => m013.up(db, engine) },
        '014_offline_allowances': { up: (db) => m014.up(db, engine) },
        '015_trust_root': { up: (db) => m015.up(db, engine) },
        '016_sent_tokens': { up: (db) => m016.up(db, engine) },
        '017_ledger_chain': { up: (db) => m017.up(db, engine) },
        '018_audit_log': { up: (db) => m018.up(db, engine) },
        '019_spend': { up: (db) => m019.up(db, engine) },
        '020_rollups_without_rowid': { up: (db) => m020.up(db, engine) },
        '021_usage_folds': { up: (db) => m021.up(db, engine) },
        '022_expected_rows': { up: (db) => m022.up(db, engine) },
        '023_ledger_chain_required': { up: (db) => m023.up(db, engine) },
      };
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

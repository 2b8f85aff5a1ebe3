import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  Kysely,
  PostgresDialect,
  SqliteAdapter,
  type SqliteDatabase,
  SqliteDriver,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import pg from 'pg';
import type { DB } from './schema';

export type Engine = 'sqlite' | 'postgres';

export interface Database {
  readonly db: Kysely<DB>;
  readonly engine: Engine;
  /** The better-sqlite3 handle, for the few hot statements prepared once (PERF-NOTES). */
  readonly sqlite: SQLite.Database | null;
  close(): Promise<void>;
}

export interface ConnectOptions {
  url: string;
  poolSize?: number;
  sqliteSync?: 'normal' | 'full';
}

/**
 * SQLite's plain `BEGIN` takes the write lock only at the first write, so two processes on one
 * file can both read, then one fails to upgrade (SQLITE_BUSY). `BEGIN IMMEDIATE` takes it up front
 * and `busy_timeout` makes the other wait instead of failing.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/**
 * SQLite does run DDL inside transactions; Kysely's adapter just says it does not, and then its
 * Migrator runs each migration statement by statement with no lock at all (its SQLite migration
 * lock is a no-op, fine for one process only). Two processes starting on a fresh file (`--cluster
 * N`, or several instances) then both create the same tables and one fails. Saying yes makes the
 * Migrator read the applied migrations and run the pending ones inside one transaction, which our
 * driver opens with BEGIN IMMEDIATE: the write lock serialises them, busy_timeout makes the others
 * wait, and they find the migrations done. A failed migration also rolls back whole.
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

/**
 * Kysely's SQLite driver calls `prepare()` for every query it runs, which costs as much as running
 * it (PERF-NOTES). The SQL text of a query shape never changes, so statements are kept, by text,
 * in a bounded LRU: every repository query gets prepared-once speed without hand-written SQL.
 * Reusing a statement is safe: the driver runs one query at a time to completion (`all`/`run`).
 */
function cachingHandle(handle: SQLite.Database, max = 500): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => handle.close(),
    prepare(sql: string) {
      let stmt = cache.get(sql);
      if (stmt) {
        cache.delete(sql); // re-inserted below: the most recently used is last
      } else {
        stmt = handle.prepare(sql);
        if (cache.size >= max) {
          const oldest = cache.keys().next();
          if (!oldest.done) cache.delete(oldest.value);
        }
      }
      cache.set(sql, stmt);
      return stmt;
    },
  } as unknown as SqliteDatabase;
}

function sqliteDialect(handle: SQLite.Database, readOnly = false): Dialect {
  return {
    createAdapter: () => new TransactionalDdlSqliteAdapter(),
    createDriver: () => (readOnly ? new SqliteDriver({ database: cachingHandle(handle) }) : new ImmediateSqliteDriver({ database: cachingHandle(handle) })),
    createIntrospector: (db) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  };
}

// int8 (bigint, count(*), sum()) arrives as a string by default; every such value here is far below 2^53.
pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));
pg.types.setTypeParser(1700, (v) => Number(v));

export function connect(options: ConnectOptions): Database {
  const { url } = options;
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10 });
    // An idle connection dropped by the server (restart, failover, pg_terminate_backend): the pool
    // discards it and the next query opens another. Unheard, this 'error' event would end the process.
    pool.on('error', () => {});
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    return { db, engine: 'postgres', sqlite: null, close: () => db.destroy() };
  }
  if (!url.startsWith('sqlite:')) throw new Error(`unsupported DATABASE_URL: ${url}`);
  const path = url.slice('sqlite:'.length);
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const handle = new SQLite(path);
  handle.pragma('journal_mode = WAL');
  handle.pragma(`synchronous = ${options.sqliteSync === 'full' ? 'FULL' : 'NORMAL'}`);
  handle.pragma('busy_timeout = 10000');
  handle.pragma('foreign_keys = ON');
  const db = new Kysely<DB>({ dialect: sqliteDialect(handle) });
  return { db, engine: 'sqlite', sqlite: handle, close: () => db.destroy() };
}

/**
 * A second, read-only connection to a SQLite file, for reads that must never wait for the writer
 * nor see its uncommitted rows (WAL lets it read alongside). Pages come through a memory map
 * instead of one read() syscall each: syscalls are what cost most on these machines.
 */
export function openSqliteReader(path: string): { db: Kysely<DB>; handle: SQLite.Database; close(): Promise<void> } {
  const handle = new SQLite(path, { readonly: true, fileMustExist: true });
  handle.pragma('busy_timeout = 10000');
  handle.pragma('mmap_size = 268435456');
  const db = new Kysely<DB>({ dialect: sqliteDialect(handle, true) });
  return { db, handle, close: () => db.destroy() };
}

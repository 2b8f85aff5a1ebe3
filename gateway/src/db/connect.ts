import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import SQLite from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  Kysely,
  PostgresDialect,
  SqliteAdapter,
  type SqliteDatabase,
  SqliteDriver,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import pg from 'pg';
import { ConfigError, maskUrl } from '../config';
import { compiledTexts, isLaunchText } from './compiled';
import type { DB } from './schema';
import { unwritableDatabase } from './sqlite-problems';

export type Engine = 'sqlite' | 'postgres';

export interface Database {
  readonly db: Kysely<DB>;
  readonly engine: Engine;
  /** The better-sqlite3 handle, for the few hot statements prepared once (BENCHMARKS.md). */
  readonly sqlite: SQLite.Database | null;
  /**
   * PostgreSQL: from now on, a statement unanswered for `ms` gives up its connection (a server gone
   * silent). Called once the migrations ran: one may rightly wait minutes on another instance's.
   */
  watchStatements(ms: number): void;
  close(): Promise<void>;
}

export interface ConnectOptions {
  url: string;
  poolSize?: number;
  /** PostgreSQL: how long a new connection may take to open, or a request wait for a free one. */
  timeoutMs?: number;
  sqliteSync?: 'normal' | 'full';
}

// How long a write waits for another process's write lock before it fails as busy (and
// `inTransaction` starts it over): the same bound for a BEGIN as for any other statement.
export const BUSY_MS = 10_000;

/**
 * SQLite's plain `BEGIN` takes the write lock only at the first write, so two processes on one
 * file can both read, then one fails to upgrade (SQLITE_BUSY). `BEGIN IMMEDIATE` takes it up front.
 * While another process holds it (a `--cluster` worker's 10,000-row import, for seconds), the wait
 * is asked again on later turns: busy_timeout's wait would sleep in this thread and freeze every
 * request of the process, warm launches included, until the other commits.
 */
function takeWriteLock(handle: SQLite.Database): () => Promise<void> {
  const begin = handle.prepare('begin immediate');
  const noWait = handle.prepare('pragma busy_timeout = 0');
  const wait = handle.prepare(`pragma busy_timeout = ${BUSY_MS}`);
  return async () => {
    const deadline = performance.now() + BUSY_MS;
    for (let pause = 1; ; pause = Math.min(pause * 2, 4)) {
      noWait.get();
      try {
        begin.run();
        return;
      } catch (error) {
        // SQLITE_BUSY, or _RECOVERY while another process rebuilds the WAL's index after a crash.
        const code = String((error as { code?: unknown } | null)?.code ?? '');
        if (!code.startsWith('SQLITE_BUSY') || performance.now() > deadline) throw error;
      } finally {
        wait.get();
      }
      await sleep(pause);
    }
  };
}

class ImmediateSqliteDriver extends SqliteDriver {
  constructor(
    config: ConstructorParameters<typeof SqliteDriver>[0],
    private readonly lock: () => Promise<void>,
  ) {
    super(config);
  }

  // Kysely holds the handle's one connection for this transaction: the lock is taken on it.
  override beginTransaction(): Promise<void> {
    return this.lock();
  }
}

/**
 * SQLite does run DDL inside transactions; Kysely's adapter just says it does not, and then its
 * Migrator runs each migration statement by statement with no lock at all (its SQLite migration
 * lock is a no-op, fine for one process only). Two processes starting on a fresh file (`--cluster
 * N`, or several instances) then both create the same tables and one fails. Saying yes makes the
 * Migrator read the applied migrations and run the pending ones inside one transaction, which our
 * driver opens with BEGIN IMMEDIATE: the write lock serialises them, the others wait for it
 * (takeWriteLock), and they find the migrations done. A failed migration also rolls back whole.
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

/** One statement cache per connection, shared by whatever runs statements on it (Kysely, the launch's reads). */
const caches = new WeakMap<SQLite.Database, (sql: string) => SQLite.Statement>();

/**
 * Kysely's SQLite driver calls `prepare()` for every query it runs, which costs as much as running
 * it (BENCHMARKS.md). The SQL text of a query shape never changes, so statements are kept, by text,
 * in a bounded LRU: every repository query gets prepared-once speed without hand-written SQL.
 * Reusing a statement is safe: the driver runs one query at a time to completion (`all`/`run`).
 */
function statementCache(handle: SQLite.Database, max = 4000): (sql: string) => SQLite.Statement {
  const known = caches.get(handle);
  if (known) return known;
  const cache = new Map<string, SQLite.Statement>();
  const prepare = (sql: string) => {
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
  };
  caches.set(handle, prepare);
  return prepare;
}

/**
 * A Kysely SQLite connection's statements run in the calling turn. SQLite is in-process: a batch of
 * reads or writes has no round trip to save, only Kysely's promise and lock per statement, and
 * reads in separate autocommit statements each start a read transaction (its WAL check) of their own.
 */
export interface SqliteStatements {
  rows(query: CompiledQuery<unknown>): unknown[];
  /** The rows a write changed. */
  changes(query: CompiledQuery<unknown>): number;
  /** `fn` in one read snapshot: a deferred transaction of its own, unless the connection is in one. */
  snapshot<T>(fn: () => T): T;
}

const statementsOf = new WeakMap<DatabaseConnection, SqliteStatements>();

/** The synchronous side of a connection Kysely provides (`provideConnection`), when it is SQLite's. */
export function sqliteStatements(connection: DatabaseConnection): SqliteStatements | undefined {
  return statementsOf.get(connection);
}

function sqliteStatementsOn(handle: SQLite.Database, prepare: (sql: string) => SQLite.Statement): SqliteStatements {
  const begin = handle.prepare('begin');
  const commit = handle.prepare('commit');
  return {
    rows: (q) => prepare(q.sql).all(q.parameters),
    changes: (q) => prepare(q.sql).run(q.parameters).changes,
    snapshot: (fn) => {
      if (handle.inTransaction) return fn();
      begin.run();
      try {
        return fn();
      } finally {
        // Reads only: ending the transaction either way releases the snapshot.
        if (handle.inTransaction) commit.run();
      }
    },
  };
}

function sqliteDialect(handle: SQLite.Database): Dialect {
  const prepare = statementCache(handle);
  const database = { close: () => handle.close(), prepare } as unknown as SqliteDatabase;
  const statements = sqliteStatementsOn(handle, prepare);
  const onCreateConnection = async (connection: DatabaseConnection) => {
    statementsOf.set(connection, statements);
  };
  return {
    createAdapter: () => new TransactionalDdlSqliteAdapter(),
    createDriver: () => new ImmediateSqliteDriver({ database, onCreateConnection }, takeWriteLock(handle)),
    createIntrospector: (db) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  };
}

// int8 (bigint, count(*), sum()) arrives as a string by default; every such value here is far below 2^53.
pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));
pg.types.setTypeParser(1700, (v) => Number(v));

/**
 * What a pooled PostgreSQL connection does beyond plain pg:
 * - The launch's statements (`shaped`, db/compiled.ts) run as named prepared statements: each text
 *   is parsed and planned once per connection instead of at every run (a group's multi-row
 *   statements carry hundreds of parameters). Only those texts: their number is bounded, where the
 *   admin routes' queries are not. Their plan is the generic one from the first run
 *   (`plan_cache_mode`): they look rows up by key, so the values change nothing in the plan, and
 *   PostgreSQL's default planned them again at each of a text's first five runs on a connection
 *   (a group's texts rarely run more often) or for ever when it guessed that cheaper. So are their
 *   combinations not prepared yet (`isLaunchText`). Every other statement with parameters is
 *   planned with its values (the default), as it is anyway at each run: generic, a list of 500
 *   keys was compared one by one on every row of a sequential scan (an import of 10,000 members
 *   took five times as long).
 * - A transaction's BEGIN goes out without waiting for its answer, and the transaction's first
 *   statement right behind it, in the same write (pg's pipeline mode sends each query as it is
 *   given; what is given in one turn leaves in one write), when that statement only reads: one
 *   that writes waits for the BEGIN, so a BEGIN that failed can never leave it committed on its
 *   own. A charge group starts with a read (its teams' heads).
 * - A COMMIT sent ahead (writeAll's `commit`) ends the transaction: the COMMIT or ROLLBACK Kysely
 *   sends after it is answered here, without a round trip.
 * - A COMMIT that PostgreSQL answers with ROLLBACK (a statement of the transaction had failed and
 *   the error was swallowed) is an error: pg reports it as a success.
 */
function pipelinedConnection(client: pg.PoolClient, watch: { ms: number | undefined }): void {
  type Query = (...args: unknown[]) => Promise<pg.QueryResult>;
  const stream = (client as unknown as { connection: { stream: Writable } }).connection.stream;
  const unwatched = client.query.bind(client) as unknown as Query;
  // A server gone silent (a failover that left the connection open, a network dropping packets)
  // would hold the statement until TCP gives up, minutes later: the connection is given up
  // instead, its statements fail as a lost connection (503), and the pool opens another.
  const query: Query = (...args) => {
    const answer = unwatched(...args);
    const ms = watch.ms;
    // A callback-style call answers nothing to watch (none is made here; pg's own would be).
    if (ms === undefined || typeof answer?.then !== 'function') return answer;
    const timer = setTimeout(() => {
      stream.destroy(Object.assign(new Error(`no answer from PostgreSQL within ${ms / 1000} s`), { code: 'ETIMEDOUT' }));
    }, ms);
    const settled = () => clearTimeout(timer);
    answer.then(settled, settled);
    return answer;
  };
  const names = new Map<string, string>();
  /** Whether the session plans generically; null: unknown, a SET inside a transaction that rolled back was undone. */
  let generic: boolean | null = null;
  /** Within a transaction, and whether a SET was sent in it (undone if it does not commit). */
  let inTransaction = false;
  let setInTransaction = false;
  const planGenerically = (want: boolean) => {
    if (generic === want) return;
    generic = want;
    if (inTransaction) setInTransaction = true;
    // Sent ahead of the statement, in the same write; a server without the setting (before 12) goes on as before.
    query(`set plan_cache_mode = ${want ? 'force_generic_plan' : 'auto'}`).catch(() => {});
  };
  const transactionEnded = (committed: boolean) => {
    if (setInTransaction && !committed) generic = null;
    inTransaction = false;
    setInTransaction = false;
  };
  /** A BEGIN sent, its answer not awaited yet. */
  let begun: Promise<unknown> | null = null;
  /** A COMMIT was sent ahead (`COMMIT_AHEAD`): the transaction is over, and only Kysely's end of it may follow. */
  let ahead = false;
  let corked = false;
  const send = (text: string, values: unknown[] | undefined): Promise<pg.QueryResult> => {
    // What is sent in one turn leaves in one write: waking the backend costs more than the bytes.
    if (!corked) {
      corked = true;
      stream.cork();
      process.nextTick(() => {
        corked = false;
        stream.uncork();
      });
    }
    const launch = isLaunchText(text);
    if (launch || (values && values.length > 0)) planGenerically(launch);
    if (!compiledTexts.has(text)) return query(text, values);
    let name = names.get(text);
    if (!name) {
      name = `fg_${createHash('sha1').update(text).digest('hex')}`;
      names.set(text, name);
    }
    return query({ name, text, values: values ?? [] });
  };
  const run = (text: string, values: unknown[] | undefined): Promise<pg.QueryResult> => {
    if (text !== 'commit' && text !== COMMIT_AHEAD.sql) return send(text, values);
    ahead = text === COMMIT_AHEAD.sql;
    return send(text, values).then(
      (r) => {
        transactionEnded(r.command !== 'ROLLBACK');
        if (r.command === 'ROLLBACK') throw new Error('the transaction was rolled back at its commit: a statement in it had failed');
        return r;
      },
      (error: unknown) => {
        transactionEnded(false);
        throw error;
      },
    );
  };
  (client as unknown as { query: Query }).query = (text, values, ...rest) => {
    if (typeof text !== 'string' || rest.length > 0) return query(text, values, ...rest);
    const parameters = values as unknown[] | undefined;
    if (text === 'rollback') transactionEnded(false);
    if (text === 'begin') {
      ahead = false;
      inTransaction = true;
      begun = send(text, undefined);
      begun.catch(() => {}); // awaited with the next statement
      return Promise.resolve(noRows('BEGIN'));
    }
    if (ahead) {
      ahead = false;
      if (text === 'commit' || text === 'rollback') return Promise.resolve(noRows(text.toUpperCase()));
      // It would run outside the transaction, on its own.
      return Promise.reject(new Error('a statement after its transaction was committed ahead'));
    }
    const before = begun;
    if (!before) return run(text, parameters);
    begun = null;
    if (!/^select\s/i.test(text)) return before.then(() => run(text, parameters));
    const r = run(text, parameters);
    return Promise.all([before, r]).then(() => r);
  };
}

/** The COMMIT a transaction's last statement sends right behind it (db/writes.ts), known here by its text. */
export const COMMIT_AHEAD = CompiledQuery.raw('commit /* sent ahead */');

const noRows = (command: string) => ({ command, rowCount: null, rows: [], oid: 0, fields: [] }) as unknown as pg.QueryResult;

export function connect(options: ConnectOptions): Database {
  const { url } = options;
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    // Pipeline mode: a query is written as soon as it is given, not after the previous one's answer
    // (pipelinedConnection sends a BEGIN or a COMMIT with the statement next to it).
    const { timeoutMs } = options;
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      pipeline: true,
      // PostgreSQL compiles a statement whose estimated cost passes jit_above_cost: on a large team's
      // usage reports that took longer than it saved (BENCHMARKS.md), and no launch statement comes
      // near it. Options in DATABASE_URL (`?options=...`) replace these whole: the operator's say.
      options: '-c jit=off',
      // Also how long a request may wait for a free connection: far beyond any wait under load.
      ...(timeoutMs !== undefined && { connectionTimeoutMillis: timeoutMs }),
    } as pg.PoolConfig);
    // A connection dropped by the server (restart, failover, pg_terminate_backend): the pool
    // discards it and the next query opens another. Unheard, its 'error' event would end the
    // process: the pool hears it while the connection is idle, the connection's own listener while
    // it is lent out between two statements (its statements then fail, the request with them).
    pool.on('error', () => {});
    const watch: { ms: number | undefined } = { ms: undefined };
    pool.on('connect', (client) => {
      client.on('error', () => {});
      pipelinedConnection(client, watch);
    });
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    return {
      db,
      engine: 'postgres',
      sqlite: null,
      watchStatements: (ms) => {
        watch.ms = ms;
      },
      close: () => db.destroy(),
    };
  }
  if (!url.startsWith('sqlite:')) throw new Error(`unsupported DATABASE_URL: ${url}`);
  const path = url.slice('sqlite:'.length);
  const handle = openSqlite(path, url, options.sqliteSync ?? 'normal');
  const db = new Kysely<DB>({ dialect: sqliteDialect(handle) });
  // One process's file: no server to go silent.
  return { db, engine: 'sqlite', sqlite: handle, watchStatements: () => {}, close: () => db.destroy() };
}

/** Opens (creating it and its directory if absent) a SQLite file; a path that cannot hold one is a ConfigError. */
function openSqlite(path: string, url: string, sync: 'normal' | 'full'): SQLite.Database {
  const fix = `DATABASE_URL must name a SQLite file or a writable place for one, not ${url}`;
  if (path !== ':memory:') {
    const dir = dirname(resolve(path));
    try {
      makeDirectory(dir);
    } catch (error) {
      throw new ConfigError([`cannot create the directory ${dir} for the SQLite database (${reason(error)}): ${fix}`]);
    }
  }
  const unwritable = path === ':memory:' || isDirectory(path) ? undefined : unwritableDatabase(path);
  if (unwritable) throw unwritable;
  let handle: SQLite.Database | null = null;
  try {
    if (path !== ':memory:') createPrivately(path);
    handle = new SQLite(path);
    handle.pragma(`busy_timeout = ${BUSY_MS}`);
    switchToWal(handle);
    handle.pragma(`synchronous = ${sync === 'full' ? 'FULL' : 'NORMAL'}`);
    handle.pragma('foreign_keys = ON');
    return handle;
  } catch (error) {
    handle?.close();
    const code = String((error as { code?: unknown } | null)?.code ?? '');
    if (code === 'SQLITE_NOTADB') throw new ConfigError([`${path} is not a SQLite database: ${fix}`]);
    if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_IOERR')) {
      const what = isDirectory(path) ? 'it is a directory' : reason(error);
      throw new ConfigError([`cannot open the SQLite database ${path} (${what}): ${fix}`]);
    }
    throw error;
  }
}

/**
 * Switching a new file to WAL reads its header, then takes the write lock to change it; SQLite's busy
 * handler waits for a first lock only, not for that upgrade, so of several processes opening a fresh
 * file at once (a cluster, instances) one could be refused at once. Tried again, as busy_timeout would.
 */
function switchToWal(handle: SQLite.Database): void {
  const deadline = Date.now() + BUSY_MS;
  for (;;) {
    try {
      handle.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      const code = String((error as { code?: unknown } | null)?.code ?? '');
      if (!code.startsWith('SQLITE_BUSY') || Date.now() > deadline) throw error;
      // Open is synchronous; a few milliseconds, random so that the waiting processes spread out.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2 + Math.random() * 8);
    }
  }
}

/**
 * A new database file readable by its owner only: it holds the private signing and root keys
 * (sealed only with FLEXGATE_KEK). SQLite gives its -wal and -shm files the same mode. An existing
 * file keeps the mode its operator gave it.
 */
function createPrivately(path: string): void {
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch {
    // There already (another process of a cluster may have made it meanwhile), or not creatable
    // here: SQLite's own open then says which.
  }
}

/**
 * mkdir -p, one level at a time. Node 20's `mkdirSync(dir, {recursive: true})` never returns for a
 * directory under one that exists but cannot hold it (`/proc/x`: ENOENT, then EEXIST for `/proc`,
 * again and again), so `DATABASE_URL=sqlite:/proc/x/y.db` would spin the gateway forever.
 */
function makeDirectory(dir: string): void {
  if (existsSync(dir)) return;
  const parent = dirname(dir);
  if (parent !== dir) makeDirectory(parent);
  try {
    // Its owner's only, as the database file in it.
    mkdirSync(dir, 0o700);
  } catch (error) {
    // Another process of a cluster may have made it meanwhile.
    if ((error as { code?: unknown }).code !== 'EEXIST' || !isDirectory(dir)) throw error;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** "no such file or directory" out of "ENOENT: no such file or directory, mkdir '/proc/x'". */
export function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return /^[A-Z]+: ([^,]+),/.exec(message)?.[1] ?? message;
}

/** How long the first connection to PostgreSQL may take before the gateway gives up on it. */
const POSTGRES_CONNECT_TIMEOUT_MS = 10_000;

/**
 * Checks that PostgreSQL accepts this DATABASE_URL with one connection of its own, before the pool
 * and the migrations: a server that is down, unreachable or refuses us becomes one ConfigError line
 * with the masked URL, instead of a stack trace from deep inside the migrator. The pool's own
 * connect timeout is DATABASE_TIMEOUT, which also bounds a request's wait for a free connection:
 * far beyond any wait under load (p99 under 100 ms), so only a server gone silent reaches it.
 */
export async function checkPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: POSTGRES_CONNECT_TIMEOUT_MS });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    throw new ConfigError([postgresProblem(error, url)]);
  } finally {
    await client.end().catch(() => {});
  }
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  ENOENT: 'no such socket',
};

function postgresProblem(error: unknown, url: string): string {
  const where = postgresAddress(url);
  const masked = `DATABASE_URL=${maskUrl(url)}`;
  const e = error as { code?: unknown; errors?: { code?: unknown }[]; message?: unknown } | null;
  // A host with several addresses (localhost: ::1 and 127.0.0.1) fails with an AggregateError of each.
  const code = String(e?.code ?? e?.errors?.[0]?.code ?? '');
  const message = error instanceof Error ? error.message : String(error);
  const network = NETWORK_REASONS[code];
  if (network) {
    const hint = code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'check the host in' : 'is it running?';
    return `cannot reach PostgreSQL at ${where} (${network}): ${hint} ${masked}`;
  }
  if (/timeout/i.test(message)) {
    return `cannot reach PostgreSQL at ${where} (no answer within ${POSTGRES_CONNECT_TIMEOUT_MS / 1000} s): is it running, and reachable from here? ${masked}`;
  }
  // SQLSTATE classes 28 (authorization), 3D (no such database), 53 (too many connections), 57P03 (starting up).
  if (/^[0-9A-Z]{5}$/.test(code)) {
    const hint =
      code === '3D000'
        ? 'create it (createdb) or fix'
        : code.startsWith('28')
          ? 'check the user and password in'
          : code === '57P03' || code.startsWith('53')
            ? 'try again shortly, or check'
            : 'check';
    return `PostgreSQL at ${where} refused the connection (${message}): ${hint} ${masked}`;
  }
  return `cannot connect to PostgreSQL at ${where} (${message}): ${masked}`;
}

/** host:port of a postgres:// URL for messages (the password never appears). */
function postgresAddress(url: string): string {
  try {
    const u = new URL(url);
    return `${decodeURIComponent(u.hostname) || 'localhost'}:${u.port || '5432'}`;
  } catch {
    return 'the address in DATABASE_URL';
  }
}

/**
 * The launch's reads of a SQLite file: committed rows only, never waiting for the writer. Each read
 * (or snapshot of reads) runs on the writer's own connection when that is outside a transaction,
 * whose page cache stays warm; inside one (a charge group between two statements, an admin change
 * awaiting something) on a read-only connection WAL lets read alongside, which rereads its pages
 * after every commit it had not seen (BENCHMARKS.md). No memory map on it: with the file changing
 * many times a second, a batch's reads took longer mapped than through read() calls. Reads only:
 * a statement that would write is refused, and so is a transaction.
 */
export function openSqliteReads(writer: SQLite.Database, path: string): SqliteReads {
  const reader = new SQLite(path, { readonly: true, fileMustExist: true });
  reader.pragma(`busy_timeout = ${BUSY_MS}`);
  const sides = new Map([writer, reader].map((h) => [h, sqliteStatementsOn(h, statementCache(h))] as const));
  /** The connection a snapshot in progress reads on: every read of it stays there. */
  let pinned: SQLite.Database | null = null;
  const handle = () => pinned ?? (writer.inTransaction ? reader : writer);
  const on = (h: SQLite.Database) => sides.get(h) as SqliteStatements;
  const statements: SqliteStatements = {
    rows: (q) => {
      const statement = statementCache(handle())(q.sql);
      if (!statement.readonly) throw new Error(`the launch's reads do not write: ${q.sql.slice(0, 60)}`);
      return statement.all(q.parameters);
    },
    changes: (q) => {
      throw new Error(`the launch's reads do not write: ${q.sql.slice(0, 60)}`);
    },
    snapshot: (fn) => {
      if (pinned) return fn();
      pinned = handle();
      try {
        return on(pinned).snapshot(fn);
      } finally {
        pinned = null;
      }
    },
  };
  const connection: DatabaseConnection = {
    executeQuery: async <R>(q: CompiledQuery) => ({ rows: statements.rows(q) as R[] }),
    streamQuery: () => {
      throw new Error("the launch's reads are not streamed");
    },
  };
  statementsOf.set(connection, statements);
  const refuse = async () => {
    throw new Error("the launch's reads take no transaction");
  };
  const driver: Driver = {
    init: async () => {},
    acquireConnection: async () => connection,
    beginTransaction: refuse,
    commitTransaction: refuse,
    rollbackTransaction: refuse,
    releaseConnection: async () => {},
    destroy: async () => {
      reader.close();
    },
  };
  const db = new Kysely<DB>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => driver,
      createIntrospector: (k) => new SqliteIntrospector(k),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  });
  return { db, handle, close: () => db.destroy() };
}

export interface SqliteReads {
  /** A Kysely for reads only, each on the connection `handle` names when it runs. */
  readonly db: Kysely<DB>;
  /** The connection a read made now runs on: the writer's when outside a transaction, else the reader's. */
  handle(): SQLite.Database;
  close(): Promise<void>;
}

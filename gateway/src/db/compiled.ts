import type SQLite from 'better-sqlite3';
import { type Compilable, CompiledQuery, type Kysely } from 'kysely';
import type { DB } from './schema';

/**
 * A query written once as a Kysely builder and compiled once, for the few statements the launch
 * runs on every warm launch: SQLite prepares the SQL once and runs it without a promise, and
 * PostgreSQL runs the same compiled text with each call's values. The builder stays the only place
 * the SQL is written.
 *
 * The builder is given named placeholders; compiling records where each lands among the query's
 * parameters, and `values` puts a call's values there.
 */
export interface Compiled<P extends Record<string, string | number>, R> {
  readonly sql: string;
  values(params: P): unknown[];
  /** The query with a call's values, for Kysely's `executeQuery`. */
  query(params: P): CompiledQuery<R>;
}

const MARK = '\u0000flexgate-param:';

export function compileOnce<P extends Record<string, string | number>, R>(
  db: Kysely<DB>,
  build: (db: Kysely<DB>, p: P) => Compilable<R>,
): Compiled<P, R> {
  const placeholders = new Proxy({} as P, { get: (_t, name) => `${MARK}${String(name)}` });
  const compiled = build(db, placeholders).compile();
  const order = compiled.parameters.map((v) => {
    if (typeof v !== 'string' || !v.startsWith(MARK)) throw new Error(`compileOnce: a parameter that is not a placeholder (${String(v)})`);
    return v.slice(MARK.length) as keyof P;
  });
  const values = (params: P) => order.map((name) => params[name]);
  return { sql: compiled.sql, values, query: (params) => CompiledQuery.raw(compiled.sql, values(params)) as CompiledQuery<R> };
}

/** Runs a compiled query on a better-sqlite3 connection, prepared once: no promise, no Kysely on the way. */
export function preparedOn<P extends Record<string, string | number>, R>(
  handle: SQLite.Database,
  q: Compiled<P, R>,
): (params: P) => R | undefined {
  const statement = handle.prepare<unknown[], R>(q.sql);
  return (params) => statement.get(...q.values(params));
}

/** The same on any Kysely database (PostgreSQL's pool): one round trip, the first row. */
export async function runOn<P extends Record<string, string | number>, R>(
  db: Kysely<DB>,
  q: Compiled<P, R>,
  params: P,
): Promise<R | undefined> {
  const { rows } = await db.executeQuery(q.query(params));
  return rows[0];
}

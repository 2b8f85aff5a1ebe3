import type SQLite from 'better-sqlite3';
import { type Compilable, CompiledQuery, type Kysely } from 'kysely';
import type { DB } from './schema';

/**
 * Queries written once as Kysely builders and compiled once per shape: the launch's batches run
 * the same statements for every group, only the number of rows or keys changes. Building and
 * compiling a Kysely query costs more than SQLite takes to run it, so each shape (the lengths of
 * the lists and the keys of the rows passed in) is compiled once, with placeholders, and each call
 * only puts its values where the placeholders landed. The builder stays the only place the SQL is
 * written; SQLite prepares each text once (db/connect.ts), PostgreSQL parses it.
 */
export type Arg = string | number | null | readonly Arg[] | { readonly [key: string]: Arg };

const MARK = '\u0000flexgate-param:';

/**
 * Every SQL text `shaped` has compiled. Their number is bounded (statements x shapes), so a
 * PostgreSQL connection may keep each one prepared (db/connect.ts): it is parsed and planned once
 * per connection instead of at every run.
 */
export const compiledTexts = new Set<string>();

/**
 * Combinations of those texts (a batch's reads, a group's writes, db/writes.ts) seen once and not
 * prepared yet: launch statements as well, whose plans PostgreSQL makes generically (db/connect.ts).
 */
export const recentCombinations = new Set<string>();

/** One of the launch's statements: a shaped text or a combination of them. */
export const isLaunchText = (text: string): boolean => compiledTexts.has(text) || recentCombinations.has(text);

interface Shape {
  sql: string;
  /** For each parameter of the SQL: where its value sits in the arguments, or a constant of the builder. */
  params: ({ path: (string | number)[] } | { constant: unknown })[];
}

/**
 * A key that differs whenever the SQL could: list lengths and row keys, not values. The items of
 * a list are alike (rows made by one mapper, keys of one kind): the first one stands for all.
 */
function shapeKey(a: Arg): string {
  if (a === null || typeof a !== 'object') return '.';
  if (Array.isArray(a)) return a.length === 0 ? '[]' : `[${a.length}*${shapeKey(a[0] as Arg)}]`;
  let key = '{';
  for (const k in a) key += `${k}:${shapeKey((a as Record<string, Arg>)[k] as Arg)},`;
  return `${key}}`;
}

/** The arguments with every value replaced by a placeholder naming its path. */
function placeholders(a: Arg, path: (string | number)[], paths: (string | number)[][]): Arg {
  if (a === null || typeof a !== 'object') {
    paths.push(path);
    return `${MARK}${paths.length - 1}`;
  }
  if (Array.isArray(a)) return a.map((v, i) => placeholders(v, [...path, i], paths));
  return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, placeholders(v as Arg, [...path, k], paths)]));
}

function valueAt(a: Arg, path: readonly (string | number)[]): unknown {
  let v: unknown = a;
  for (const step of path) v = (v as Record<string | number, unknown>)[step];
  return v;
}

/**
 * A query compiled once per shape of its arguments: `query(db, args)` returns it ready to run
 * (`db.executeQuery`). `db` decides the dialect.
 */
export function shaped<A extends { readonly [key: string]: Arg }, R>(
  build: (db: Kysely<DB>, args: A) => Compilable<R>,
): (db: Kysely<DB>, args: A) => CompiledQuery<R> {
  // By dialect (its adapter's class), not by database: every transaction is a Kysely of its own.
  const byDialect = new Map<unknown, Map<string, Shape>>();
  return (db, args) => {
    const dialect = db.getExecutor().adapter.constructor;
    let shapes = byDialect.get(dialect);
    if (!shapes) {
      shapes = new Map();
      byDialect.set(dialect, shapes);
    }
    const key = shapeKey(args);
    let shape = shapes.get(key);
    if (!shape) {
      const paths: (string | number)[][] = [];
      const compiled = build(db, placeholders(args, [], paths) as A).compile();
      shape = {
        sql: compiled.sql,
        params: compiled.parameters.map((p) =>
          typeof p === 'string' && p.startsWith(MARK) ? { path: paths[Number(p.slice(MARK.length))] ?? [] } : { constant: p },
        ),
      };
      shapes.set(key, shape);
      compiledTexts.add(shape.sql);
    }
    const values = shape.params.map((p) => ('constant' in p ? p.constant : valueAt(args, p.path)));
    return CompiledQuery.raw(shape.sql, values) as CompiledQuery<R>;
  };
}

/** Runs a shaped query and returns its rows. */
export async function rowsOf<A extends { readonly [key: string]: Arg }, R>(
  db: Kysely<DB>,
  query: (db: Kysely<DB>, args: A) => CompiledQuery<R>,
  args: A,
): Promise<R[]> {
  return (await db.executeQuery(query(db, args))).rows;
}

/**
 * A shaped query for one fixed shape, prepared once on each better-sqlite3 connection `handle`
 * names when it runs: the few statements of a warm launch run without a promise and without Kysely.
 */
export function preparedOn<A extends { readonly [key: string]: Arg }, R>(
  handle: () => SQLite.Database,
  db: Kysely<DB>,
  query: (db: Kysely<DB>, args: A) => CompiledQuery<R>,
  example: A,
): (args: A) => R | undefined {
  const sql = query(db, example).sql;
  const statements = new Map<SQLite.Database, SQLite.Statement<unknown[], R>>();
  return (args) => {
    const h = handle();
    let statement = statements.get(h);
    if (!statement) {
      statement = h.prepare<unknown[], R>(sql);
      statements.set(h, statement);
    }
    return statement.get(...query(db, args).parameters);
  };
}

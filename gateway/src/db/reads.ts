import { CompiledQuery, type Kysely, PostgresAdapter } from 'kysely';
import { sqliteStatements } from './connect';
import type { DB } from './schema';
import { preparedIfRecurring, renumber } from './writes';

/**
 * One read of a batch: a compiled query and what its rows mean, or a value known without reading
 * (an empty list of keys). Repositories give their batch reads this way, so that a caller can send
 * several at once (`readAll`) or one alone (`readOne`), through the same builder either way.
 */
export interface Read<T> {
  readonly query: CompiledQuery<unknown> | null;
  readonly map: (rows: never[]) => T;
}

export function read<R, T>(query: CompiledQuery<R>, map: (rows: R[]) => T): Read<T> {
  return { query, map: map as (rows: never[]) => T };
}

/** A read that needs no query: its answer is known. */
export function known<T>(value: T): Read<T> {
  return { query: null, map: () => value };
}

export async function readOne<T>(db: Kysely<DB>, r: Read<T>): Promise<T> {
  return r.query ? r.map((await db.executeQuery(r.query)).rows as never[]) : r.map([]);
}

type Results<T extends readonly Read<unknown>[]> = { -readonly [K in keyof T]: T[K] extends Read<infer U> ? U : never };

/**
 * Several independent reads. On PostgreSQL they go as ONE statement, each read a scalar subquery
 * whose rows come back as a JSON array: one round trip and one snapshot for all of them (a launch
 * batch's facts, a charge group's reads before its lock). Every value the schema holds (text,
 * integers, JSON) reads the same from JSON as from a row. SQLite (in-process) runs them in order,
 * in the calling turn and in one snapshot (connect.ts `sqliteStatements`).
 */
export async function readAll<const T extends readonly Read<unknown>[]>(db: Kysely<DB>, reads: T): Promise<Results<T>> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) {
    return db.getExecutor().provideConnection(async (connection) => {
      const s = sqliteStatements(connection);
      if (!s) throw new Error('readAll: a SQLite connection flexgate did not open');
      return s.snapshot(() => reads.map((r) => r.map((r.query ? s.rows(r.query) : []) as never[]))) as Results<T>;
    });
  }
  const querying = reads.filter((r) => r.query !== null);
  if (querying.length < 2) {
    const out: unknown[] = [];
    for (const r of reads) out.push(await readOne(db, r));
    return out as Results<T>;
  }
  const parameters: unknown[] = [];
  const columns: string[] = [];
  for (const r of querying) {
    const q = r.query as CompiledQuery<unknown>;
    columns.push(`(select coalesce(json_agg(r), '[]') from (${renumber(q.sql, parameters.length)}) r) as r${columns.length}`);
    parameters.push(...q.parameters);
  }
  const text = `select ${columns.join(', ')}`;
  preparedIfRecurring(text);
  const row = (await db.executeQuery(CompiledQuery.raw(text, parameters))).rows[0] as Record<string, never[]>;
  let i = 0;
  return reads.map((r) => (r.query === null ? r.map([]) : r.map(row[`r${i++}`] ?? []))) as Results<T>;
}

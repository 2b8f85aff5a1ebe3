import { CompiledQuery, PostgresAdapter } from 'kysely';
import { compiledTexts, recentCombinations as seen } from './compiled';
import { COMMIT_AHEAD, sqliteStatements } from './connect';
import { RetryTransaction } from './errors';
import type { Tx } from './tx';

/**
 * One write of a transaction's last step. `expect`: the number of rows it must touch; fewer means
 * another transaction changed them first, and the whole transaction starts over (`inTransaction`).
 */
export interface Write {
  readonly query: CompiledQuery<unknown>;
  readonly expect?: { rows: number; lost: string };
}

/** PostgreSQL takes at most 65,535 parameters in one statement; past this, writes go one by one. */
const MAX_PARAMS = 30_000;

/**
 * Runs the writes of a transaction, in order, and returns how many rows each touched. On
 * PostgreSQL they go as one statement (each write a data-modifying CTE): a charge group holds its
 * teams' lots from its read until its commit, so every round trip in between is time the other
 * instances wait; one statement is one round trip whatever the number of writes. The writes of one
 * call touch distinct rows (PostgreSQL runs such CTEs in no set order), and one that fails fails the
 * statement, so nothing is half-written. SQLite (in-process, one writer) runs them one after the other.
 *
 * `commit`: these are the transaction's last writes, and its COMMIT may go right behind them, in
 * the same round trip (PostgreSQL's combined statement; elsewhere the transaction commits as usual).
 * The statement then checks its own `expect`s (`flexgate_expect`, migration 022): a lost race fails
 * it, and the COMMIT behind it rolls back.
 */
export async function writeAll(trx: Tx, writes: readonly Write[], o: { commit?: boolean } = {}): Promise<number[]> {
  const counts = combinable(trx, writes) ? await runCombined(trx, writes, o.commit === true) : await runEach(trx, writes);
  for (const [i, w] of writes.entries()) {
    if (w.expect && counts[i] !== w.expect.rows) throw new RetryTransaction(w.expect.lost);
  }
  return counts;
}

function combinable(trx: Tx, writes: readonly Write[]): boolean {
  if (writes.length < 2 || !(trx.getExecutor().adapter instanceof PostgresAdapter)) return false;
  return writes.reduce((n, w) => n + w.query.parameters.length, 0) <= MAX_PARAMS;
}

// One after the other, never submitted together: when one fails, Kysely rolls the transaction
// back at once, and a write still queued behind it would then run outside it. SQLite runs them in
// the calling turn (connect.ts `sqliteStatements`): the first that fails throws, the rest never run.
async function runEach(trx: Tx, writes: readonly Write[]): Promise<number[]> {
  if (writes.length === 0) return [];
  return trx.getExecutor().provideConnection(async (connection) => {
    const s = sqliteStatements(connection);
    if (s) return writes.map((w) => s.changes(w.query));
    const counts: number[] = [];
    for (const w of writes) counts.push(Number((await connection.executeQuery(w.query)).numAffectedRows ?? 0));
    return counts;
  });
}

async function runCombined(trx: Tx, writes: readonly Write[], commit: boolean): Promise<number[]> {
  const parameters: unknown[] = [];
  const ctes = writes.map((w, i) => {
    const text = renumber(w.query.sql, parameters.length);
    parameters.push(...w.query.parameters);
    return `w${i} as (${text} returning 1)`;
  });
  const counts = writes.map((w, i) => {
    const found = `(select count(*) from w${i})`;
    return `${w.expect ? `flexgate_expect(${found}, ${w.expect.rows}, ${i})` : found}::int as c${i}`;
  });
  const text = `with ${ctes.join(', ')} select ${counts.join(', ')}`;
  preparedIfRecurring(text);
  const query = CompiledQuery.raw(text, parameters);
  const result = await trx
    .getExecutor()
    .provideConnection(async (connection) => {
      const written = connection.executeQuery(query);
      // Sent at once, not after the answer: pg's pipeline mode (connect.ts) writes it behind the statement.
      return commit ? (await Promise.all([written, connection.executeQuery(COMMIT_AHEAD)]))[0] : await written;
    })
    .catch((error: unknown) => {
      throw lostRace(error, writes) ?? error;
    });
  const row = result.rows[0] as Record<string, number> | undefined;
  return writes.map((_, i) => Number(row?.[`c${i}`] ?? 0));
}

/** A write that failed its `flexgate_expect`: another transaction changed its rows first. */
function lostRace(error: unknown, writes: readonly Write[]): RetryTransaction | undefined {
  const e = error as { code?: unknown; message?: unknown } | null;
  if (e?.code !== 'FG001') return undefined;
  const write = writes[Number(/^write (\d+)/.exec(String(e.message))?.[1])];
  return new RetryTransaction(write?.expect?.lost ?? String(e.message));
}

/** Combined texts not prepared yet that ran once (`seen`) are forgotten past this: each is tens of KB. */
const SEEN_MAX = 500;
/**
 * Combined texts prepared so far, and their bound: each connection keeps at most that many more
 * statements. Above what the bench's busiest cold runs make, so that a group's statement runs
 * prepared once it has recurred (BENCHMARKS.md: how many, and the backends' memory).
 */
let preparedCombinations = 0;
const MAX_PREPARED_COMBINATIONS = 512;

/**
 * A combination of writes (their row counts) that recurs is prepared on each connection like the
 * shaped texts it is made of (db/connect.ts): unprepared, PostgreSQL parsed and planned the group's
 * one statement at every run, which cost it more than the separate prepared statements it replaced.
 * Combinations are many (a count per write), so only recurring ones, up to a bound.
 */
export function preparedIfRecurring(text: string): void {
  if (compiledTexts.has(text) || preparedCombinations >= MAX_PREPARED_COMBINATIONS) return;
  if (!seen.has(text)) {
    if (seen.size >= SEEN_MAX) seen.clear();
    seen.add(text);
    return;
  }
  seen.delete(text);
  compiledTexts.add(text);
  preparedCombinations++;
}

/** `$n` becomes `$(n + offset)`, outside quoted identifiers and literals (Kysely quotes both). */
export function renumber(text: string, offset: number): string {
  if (offset === 0) return text;
  const { parts, numbers } = piecesOf(text);
  let out = parts[0] as string;
  for (let i = 0; i < numbers.length; i++) out += `$${(numbers[i] as number) + offset}${parts[i + 1] as string}`;
  return out;
}

/**
 * A text cut at its `$n` placeholders, found once per text: a group's writes are shaped texts (a
 * bounded set, db/compiled.ts) of thousands of characters, scanned at every group before.
 */
const pieces = new Map<string, { parts: string[]; numbers: number[] }>();
const PIECES_MAX = 2_000;

function piecesOf(text: string): { parts: string[]; numbers: number[] } {
  let found = pieces.get(text);
  if (found) return found;
  found = { parts: [], numbers: [] };
  let last = 0;
  for (const m of text.matchAll(/"(?:[^"]|"")*"|'(?:[^']|'')*'|\$(\d+)/g)) {
    if (m[1] === undefined) continue;
    found.parts.push(text.slice(last, m.index));
    found.numbers.push(Number(m[1]));
    last = m.index + m[0].length;
  }
  found.parts.push(text.slice(last));
  if (pieces.size >= PIECES_MAX) pieces.clear();
  pieces.set(text, found);
  return found;
}

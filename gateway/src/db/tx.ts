import { type Kysely, PostgresAdapter, sql, type Transaction } from 'kysely';
import { type RetryReason, retryReason } from './errors';
import type { DB } from './schema';

export type Tx = Transaction<DB>;

/** Told each time `inTransaction` starts a transaction over, and why (the process's metrics and log). */
export interface RetryObserver {
  retried(reason: RetryReason, error: unknown): void;
}

// Keyed by the Kysely instance, which every service already passes: no caller threads the metrics
// through, and gateways sharing one process (tests, each with its own connection) keep their own counts.
const observers = new WeakMap<Kysely<DB>, RetryObserver>();

/** Reports the retries of transactions run on `db`; set once, where the gateway builds it with its metrics. */
export function observeRetries(db: Kysely<DB>, observer: RetryObserver): void {
  observers.set(db, observer);
}

/**
 * Runs `fn` in a transaction and runs it again, from the start, when it lost a race to another
 * transaction (a unique key taken, a guarded decrement that matched no row, a deadlock). Every
 * service that changes a balance goes through here, so a lost race never half-applies.
 */
export async function inTransaction<T>(db: Kysely<DB>, fn: (trx: Tx) => Promise<T>, attempts = 8): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(fn);
    } catch (error) {
      const reason = retryReason(error);
      if (reason === null || attempt >= attempts) throw error;
      observers.get(db)?.retried(reason, error);
      // A little jitter keeps two retrying transactions from colliding again in lockstep.
      await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
    }
  }
}

/**
 * Makes the transactions that pass the same `name` run one after the other, for the few steps that
 * read what they then replace and that no unique key or guarded update can protect (the first
 * signing key: every kid is different; a member's products or invitation, and its removal; a
 * team's defaults; a product's rate: each read for its audit entry and e-mail before being
 * replaced; an admin's key, and a console sign-in that looked it up; a user's revocation, and a
 * refresh of one of its sign-ins) and a team's CSV imports (two files naming the same people in
 * other orders would each wait for rows the other holds, and one start over).
 * PostgreSQL: a transaction-scoped advisory lock, released at commit or rollback; under READ
 * COMMITTED the statements after it see what the previous holder committed. SQLite: nothing to do,
 * every write transaction already holds the database's write lock (BEGIN IMMEDIATE,
 * db/connect.ts), across processes too.
 */
export async function serialize(trx: Tx, name: string): Promise<void> {
  if (trx.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`select pg_advisory_xact_lock(hashtext(${`flexgate:${name}`}))`.execute(trx);
  }
}

/**
 * `serialize`'s shared side: transactions that pass the same `name` here run beside each other, and
 * one that passes it to `serialize` runs alone, after them and before any that come later (a team's
 * CSV import, which writes its members without their own locks, and a change of one member).
 */
export async function serializeShared(trx: Tx, name: string): Promise<void> {
  if (trx.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`select pg_advisory_xact_lock_shared(hashtext(${`flexgate:${name}`}))`.execute(trx);
  }
}

import type SQLite from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { preparedOn, rowsOf } from '../db/compiled';
import { type Database, openSqliteReads } from '../db/connect';
import { type Recheck, recheckOf, recheckSessions } from '../db/repos/epoch';
import { answersOf, answersQuery, type StoredAnswer } from '../db/repos/idempotency';
import type { DB } from '../db/schema';
import { inTransaction } from '../db/tx';
import type { Logger } from '../lib/logger';
import type { ChargeObserver } from '../lib/metrics';
import { Batcher } from './batcher';
import { type ChargeJob, type ChargeResult, chargeGroup } from './charges';
import { alwaysRecheck, type Coherence, sqliteCommits } from './coherence';
import { type LaunchAsk, type LaunchFacts, loadFacts } from './facts';

/**
 * The one port the launch needs from storage: its facts, its charge, the warm recheck and the
 * version that says when a recheck is due. Both engines batch facts and group charges the same
 * way, through the same queries (facts.ts, charges.ts); what differs is only where reads go and
 * how a change made elsewhere is heard (coherence.ts). A value or a promise: SQLite answers the
 * warm reads synchronously, and the launch lane then answers without one.
 */
export interface LaunchStore {
  /** The facts of one launch, read with the other launches of its turn; `at` for a launch reported later. */
  facts(ask: LaunchAsk, at?: Date): Promise<LaunchFacts>;
  /** Opens (or finds) the session of `job`, in one transaction with the other charges of its group. */
  charge(job: ChargeJob): Promise<ChargeResult>;
  /** What a cached warm answer must read again (its session still open, its team's balance, the epoch). */
  recheck(sessionId: string, nowIso: string): Recheck | Promise<Recheck>;
  /** The stored answer of an Idempotency-Key, if any (clients send one with every launch). */
  storedAnswer(scope: string, key: string): StoredAnswer | undefined | Promise<StoredAnswer | undefined>;
  /** Changes when anything a cached answer of the team depends on may have been committed (coherence.ts). */
  version(teamId: string): number;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** Most charges (or fact reads) in one batch; 1 makes every charge a transaction of its own. */
  groupMax: number;
  now: () => Date;
  logger: Logger;
  /** Told of every charge group (the gateway's metrics): what grouping the load gives, and its waits. */
  observer?: ChargeObserver;
}

const unobserved: ChargeObserver = { committed: () => {}, takenApart: () => {} };

type Settled = { ok: ChargeResult } | { error: unknown };

export function createLaunchStore(database: Database, url: string, o: StoreOptions): LaunchStore {
  // One group at a time per instance, on both engines: SQLite has one writer, and on PostgreSQL more
  // groups in flight split one team's queue into smaller groups that wait on its lots (BENCHMARKS.md).
  const charges = new Batcher<ChargeJob, Settled>(
    (jobs, more) => chargeAll(database.db, jobs, more, o.logger, o.observer ?? unobserved),
    o.groupMax,
  );
  if (database.engine === 'postgres') {
    // Every warm launch rechecks, with the other warm launches of its turn in one statement: a
    // notification of a change made elsewhere arrives after the commit, and a launch in between
    // would be answered from what no longer holds (a refunded session, products withdrawn).
    const rechecks = new Batcher<{ sessionId: string; now: string }, Recheck>(async (items) => {
      const now = items.map((i) => i.now).sort()[items.length - 1] ?? '';
      const rows = await rowsOf(database.db, recheckSessions, { sessions: [...new Set(items.map((i) => i.sessionId))], now });
      const byId = new Map(rows.map((r) => [r.id, r]));
      return items.map((i) => recheckOf(byId.get(i.sessionId)));
    }, o.groupMax);
    const answers = new Batcher<{ scope: string; key: string }, StoredAnswer | undefined>(async (keys) => {
      const found = await answersOf(database.db, keys);
      return keys.map((k) => found.get(`${k.scope}\n${k.key}`));
    }, o.groupMax);
    const coherence = alwaysRecheck();
    return {
      ...factsOn(database.db, o),
      charge: (job) => charges.submit(job).then(unwrap),
      recheck: (sessionId, now) => rechecks.submit({ sessionId, now }),
      storedAnswer: (scope, key) => answers.submit({ scope, key }),
      version: (teamId) => coherence.version(teamId),
      close: () => coherence.close(),
    };
  }
  // SQLite: the launch's reads never wait for the writer nor see a group's uncommitted rows (connect.ts).
  const path = url.slice('sqlite:'.length);
  const reads = path === ':memory:' ? null : openSqliteReads(requireHandle(database), path);
  const readDb: Kysely<DB> = reads?.db ?? database.db;
  const handle = reads ? reads.handle : () => requireHandle(database);
  const recheck = preparedOn(handle, readDb, recheckSessions, { sessions: [''], now: '' });
  const stored = preparedOn(handle, readDb, answersQuery, { keys: [{ scope: '', key: '' }] });
  const coherence: Coherence = reads ? sqliteCommits(path) : alwaysRecheck();
  return {
    ...factsOn(readDb, o),
    charge: (job) => charges.submit(job).then(unwrap),
    recheck: (sessionId, now) => recheckOf(recheck({ sessions: [sessionId], now })),
    storedAnswer: (scope, key) => stored({ keys: [{ scope, key }] }),
    version: (teamId) => coherence.version(teamId),
    close: async () => {
      await coherence.close();
      await reads?.close();
    },
  };
}

function factsOn(db: Kysely<DB>, o: StoreOptions): Pick<LaunchStore, 'facts'> {
  // A batch decides at one instant (its latest); a launch reported later is read at its own.
  const batch = new Batcher<LaunchAsk, LaunchFacts>((asks) => loadFacts(db, asks, o.now()), o.groupMax);
  return { facts: (ask, at) => (at ? loadFacts(db, [ask], at).then((f) => f[0] as LaunchFacts) : batch.submit(ask)) };
}

function requireHandle(database: Database): SQLite.Database {
  if (!database.sqlite) throw new Error('a SQLite store needs its connection');
  return database.sqlite;
}

function unwrap(s: Settled): ChargeResult {
  if ('error' in s) throw s.error;
  return s.ok;
}

/**
 * A group in one transaction (started over on a lost race, `inTransaction`). Once it holds its
 * teams' heads it takes in the charges of those teams that arrived meanwhile (`more`); they stay
 * in the group if it starts over. A group that fails otherwise is taken apart: each charge runs
 * alone, so one launch's failure is its own.
 */
async function chargeAll(
  db: Kysely<DB>,
  first: ChargeJob[],
  more: (pick: (job: ChargeJob) => boolean) => ChargeJob[],
  logger: Logger,
  observer: ChargeObserver,
): Promise<Settled[]> {
  const jobs = [...first];
  const join = (teams: ReadonlySet<string>) => {
    jobs.push(...more((j) => teams.has(j.teamId)));
    return jobs;
  };
  const started = performance.now();
  let attempts = 0;
  try {
    const results = await inTransaction(db, (trx) => {
      attempts++;
      return chargeGroup(trx, jobs, join);
    });
    observer.committed(jobs.length, attempts, (performance.now() - started) / 1000);
    return results.map((ok) => ({ ok }));
  } catch (error) {
    if (jobs.length === 1) return [{ error }];
    observer.takenApart();
    logger.debug('charge group taken apart', { charges: jobs.length, err: error instanceof Error ? error.message : String(error) });
    return Promise.all(
      jobs.map((job) =>
        inTransaction(db, (trx) => chargeGroup(trx, [job])).then(
          ([ok]) => ({ ok: ok as ChargeResult }),
          (e: unknown) => ({ error: e }),
        ),
      ),
    );
  }
}

import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { type ChainSummary, GENESIS_HASH, verifyChain } from '@flexgate/shared';
import SQLite from 'better-sqlite3';
import { ConfigError } from '../config';
import { BUSY_MS, reason } from './connect';
import { entryOf, type HeadRow, type LedgerRow } from './repos/ledger';

/** What a backup wrote, and what its checks found (none: the copy is whole). */
export interface BackupReport {
  to: string;
  bytes: number;
  /** The newest migration the copy records: a gateway of this version or newer opens it. */
  schema: string;
  teams: number;
  entries: number;
  /** Each a sentence; empty when the copy passed every check. */
  problems: string[];
}

/**
 * A copy of a SQLite database, taken while gateways serve from it, then checked. `VACUUM INTO`
 * copies in one read transaction: the copy is the database as one commit left it, and writers go on
 * meanwhile (WAL). SQLite's page-by-page backup API would start over at every write another process
 * commits, and a busy gateway commits every few milliseconds. The copy is written beside `to`,
 * flushed, then renamed, so that a file at `to` is always a whole copy; readable by its owner only,
 * as the database (it holds the private keys, sealed only with FLEXGATE_KEK).
 */
export function backupSqlite(from: string, to: string): BackupReport {
  if (!existsSync(from) || statSync(from).isDirectory()) throw new ConfigError([`no SQLite database at ${from}`]);
  const target = resolve(to);
  if (existsSync(target)) throw new ConfigError([`${to} already exists: a backup never overwrites a file; name a new one`]);
  if (!existsSync(dirname(target)) || !statSync(dirname(target)).isDirectory()) {
    throw new ConfigError([`no directory ${dirname(target)} to write ${basename(target)} in`]);
  }
  const source = openSource(from);
  const partial = join(dirname(target), `.${basename(target)}.partial-${process.pid}`);
  try {
    try {
      closeSync(openSync(partial, 'wx', 0o600));
    } catch (error) {
      throw new ConfigError([`cannot write in ${dirname(target)} (${reason(error)})`]);
    }
    source.prepare('vacuum into ?').run(partial);
    source.close();
    const report = checkCopy(partial);
    const fd = openSync(partial, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(partial, target);
    syncDirectory(dirname(target));
    return { ...report, to: target, bytes: statSync(target).size };
  } catch (error) {
    // Nothing half-written is left behind, under its hidden name or any other.
    if (source.open) source.close();
    rmSync(partial, { force: true });
    if (error instanceof ConfigError) throw error;
    throw new ConfigError([`the backup of ${from} failed (${reason(error)}); nothing was written at ${to}`]);
  }
}

/** The database to copy, opened, and a flexgate database; what keeps it from being either is one line. */
function openSource(from: string): SQLite.Database {
  let source: SQLite.Database | undefined;
  try {
    source = new SQLite(from, { fileMustExist: true });
    source.pragma(`busy_timeout = ${BUSY_MS}`);
    const tables = source.prepare("select count(*) from sqlite_master where type = 'table' and name in ('kysely_migration', 'ledger')");
    if (tables.pluck().get() !== 2) throw new ConfigError([`${from} is a SQLite database but not flexgate's (no migrations, no ledger)`]);
    return source;
  } catch (error) {
    source?.close();
    if (error instanceof ConfigError) throw error;
    const code = String((error as { code?: unknown } | null)?.code ?? '');
    if (code === 'SQLITE_NOTADB') throw new ConfigError([`${from} is not a SQLite database`]);
    throw new ConfigError([`cannot read the SQLite database ${from} (${reason(error)}): run the backup as the gateway's user`]);
  }
}

/**
 * What makes a copy worth restoring: SQLite's own check of its pages and indexes, and every team's
 * ledger chain (R5) verified from its first entry to the head the gateway recorded.
 */
function checkCopy(path: string): Omit<BackupReport, 'to' | 'bytes'> {
  const copy = new SQLite(path, { readonly: true, fileMustExist: true });
  try {
    const problems: string[] = [];
    const integrity = copy.pragma('integrity_check', { simple: false }) as { integrity_check: string }[];
    const damaged = integrity.map((r) => r.integrity_check).filter((r) => r !== 'ok');
    if (damaged.length > 0) problems.push(`SQLite's integrity check: ${damaged.slice(0, 5).join('; ')}`);
    const schema =
      (copy.prepare('select name from kysely_migration order by name desc limit 1').pluck().get() as string | undefined) ?? '(none)';
    const teams = copy.prepare('select count(*) from teams').pluck().get() as number;
    const heads = new Map(
      (copy.prepare('select team_id, last_id, last_hash, count from ledger_heads').all() as HeadRow[]).map((h) => [h.team_id, h]),
    );
    let entries = 0;
    const chains = new Map<string, { summary: ChainSummary; broken: boolean }>();
    // One pass in (team, id) order (the ledger_by_team index): memory stays flat on a large ledger.
    for (const row of copy.prepare('select * from ledger order by team_id, id').iterate() as IterableIterator<LedgerRow>) {
      entries++;
      const chain = chains.get(row.team_id) ?? { summary: { count: 0, lastId: 0, lastHash: GENESIS_HASH, total: 0 }, broken: false };
      chains.set(row.team_id, chain);
      if (chain.broken) continue;
      const step = verifyChain([entryOf(row)], chain.summary);
      chain.summary = step.summary;
      if (!step.ok) {
        chain.broken = true;
        const b = step.break;
        problems.push(
          `team ${row.team_id}'s ledger breaks at entry ${b.id} (position ${b.position}): ${b.field} ${b.found}, expected ${b.expected}`,
        );
      }
    }
    for (const [team, chain] of chains) {
      const head = heads.get(team);
      if (chain.broken) continue;
      if (!head) problems.push(`team ${team} has ${chain.summary.count} ledger entries but no recorded head`);
      else if (head.count !== chain.summary.count || head.last_hash !== chain.summary.lastHash || head.last_id !== chain.summary.lastId)
        problems.push(
          `team ${team}'s ledger ends at entry ${chain.summary.lastId} (${chain.summary.count} entries), its recorded head at ${head.last_id} (${head.count})`,
        );
    }
    for (const [team, head] of heads) {
      if (!chains.has(team) && head.count > 0) problems.push(`team ${team}'s recorded head counts ${head.count} entries, the ledger none`);
    }
    return { schema, teams, entries, problems };
  } finally {
    copy.close();
  }
}

/** The rename itself made durable: without it a crash could leave the directory without the new name. */
function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

import { closeSync, openSync, readSync } from 'node:fs';
import pg from 'pg';
import type { Logger } from '../lib/logger';

/**
 * How a warm answer learns that something it depends on may have changed anywhere (another
 * process, another instance): `version(team)` changes whenever a commit may have touched what a
 * cached answer of that team was decided from (access, its sessions, its lots). Unchanged: the
 * cached answer stands without reading the database. Changed: one recheck.
 */
export interface Coherence {
  version(teamId: string): number;
  close(): Promise<void>;
}

/** Nothing to listen to (SQLite in memory): every warm launch rechecks. */
export function alwaysRecheck(): Coherence {
  let tick = 0;
  return { version: () => ++tick, close: async () => {} };
}

/**
 * SQLite in WAL mode: every commit, by any connection of any process, rewrites the wal-index
 * header (the first 96 bytes of the `-shm` file: change counter, last frame, salts, checksums; see
 * sqlite.org/walformat.html). One `pread` of it tells whether anything was committed since the last
 * read, against the file-lock syscalls and read transaction of `PRAGMA data_version`. A torn read
 * (the header half rewritten) only looks like a change. One counter for the whole file.
 */
export function sqliteCommits(path: string): Coherence {
  let fd: number;
  try {
    fd = openSync(`${path}-shm`, 'r');
  } catch {
    return alwaysRecheck();
  }
  const last = Buffer.alloc(96);
  const now = Buffer.alloc(96);
  let counter = 0;
  const read = () => {
    // A short read (a header not written yet) counts as a change: the caller rechecks.
    if (readSync(fd, now, 0, 96, 0) !== 96 || !now.equals(last)) {
      now.copy(last);
      counter += 1;
    }
    return counter;
  };
  read();
  return { version: read, close: async () => closeSync(fd) };
}

/** The channel migration 009's triggers notify: `access` (migration 006's tables) or `team:<id>` (its lots, its sessions). */
export const CHANGES_CHANNEL = 'flexgate_changes';

/**
 * PostgreSQL: one connection per instance listens on `flexgate_changes`, which triggers notify in
 * the committing transaction (PostgreSQL delivers notifications at commit, in commit order, to
 * every listening session). An access change moves every team's version; a team's lots or
 * sessions move that team's. While the listener is not connected (starting, or the connection
 * dropped) nothing can be trusted: every call returns a new version, so every warm launch rechecks,
 * and a reconnection moves every version (what was missed meanwhile is unknown).
 */
export function postgresNotifications(url: string, logger: Logger): Coherence {
  let tick = 0;
  let accessTick = 0;
  const teamTicks = new Map<string, number>();
  let listening = false;
  let closed = false;
  let client: pg.Client | null = null;
  let retryMs = 100;

  const connect = async () => {
    if (closed) return;
    const c = new pg.Client({ connectionString: url });
    client = c;
    const lost = (why: string) => {
      if (client !== c) return;
      listening = false;
      client = null;
      c.end().catch(() => {});
      if (closed) return;
      logger.warn('change listener lost: warm launches recheck until it is back', { err: why });
      setTimeout(() => void connect(), retryMs).unref();
      retryMs = Math.min(retryMs * 2, 5000);
    };
    c.on('error', (e) => lost(e.message));
    c.on('end', () => lost('connection ended'));
    c.on('notification', (n) => {
      tick += 1;
      const payload = n.payload ?? '';
      if (payload.startsWith('team:')) teamTicks.set(payload.slice(5), tick);
      else accessTick = tick;
    });
    try {
      await c.connect();
      await c.query(`listen ${CHANGES_CHANNEL}`);
      // Whatever was committed before this point may have been missed: everything rechecks once.
      tick += 1;
      accessTick = tick;
      teamTicks.clear();
      listening = true;
      retryMs = 100;
    } catch (e) {
      lost(e instanceof Error ? e.message : String(e));
    }
  };
  void connect();

  return {
    version: (teamId) => (listening ? Math.max(accessTick, teamTicks.get(teamId) ?? 0) : ++tick),
    close: async () => {
      closed = true;
      listening = false;
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}

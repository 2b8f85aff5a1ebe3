import { closeSync, openSync, readSync } from 'node:fs';

/**
 * How a warm answer learns that something it depends on may have changed anywhere (another
 * process, another instance): `version(team)` changes whenever a commit may have touched what a
 * cached answer of that team was decided from (access, its sessions, its lots). Unchanged: the
 * cached answer stands without reading the database. Changed: one recheck.
 *
 * Only SQLite can tell at once and for certain (every commit shows in the file's `-shm` header
 * before it returns). PostgreSQL's notifications arrive after the commit: a launch answered in
 * between would be answered from what no longer holds, so there every warm launch rechecks, with
 * the others of its turn (launch/store.ts).
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

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';

/**
 * A writer connection to a SQLite file as every writer here opens it: WAL (readers never wait for
 * the writer), `synchronous` NORMAL (the WAL is synced at checkpoints; a process crash loses
 * nothing, a power cut may lose the last commits) or FULL (synced at every commit), a busy timeout
 * so that writers queue instead of failing, and foreign keys enforced.
 */
export function openSqlite(path: string, sync: 'normal' | 'full' = 'normal'): SQLite.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const handle = new SQLite(path);
  handle.pragma('journal_mode = WAL');
  handle.pragma(`synchronous = ${sync === 'full' ? 'FULL' : 'NORMAL'}`);
  handle.pragma('busy_timeout = 10000');
  handle.pragma('foreign_keys = ON');
  return handle;
}

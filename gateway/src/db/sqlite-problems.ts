import { accessSync, constants, existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../config';

/**
 * A SQLite database the gateway opened but could not use at start: held by another process beyond
 * 10 s (db/connect.ts), or not writable by this user (often -wal and -shm files a
 * start as root left behind). Both are the operator's to fix, so a ConfigError line (exit 2), not a
 * stack trace; any other error is left as it is.
 */
export function sqliteStartProblem(error: unknown, path: string): ConfigError | undefined {
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  if (code.startsWith('SQLITE_BUSY')) {
    return new ConfigError([
      `the SQLite database ${path} stayed locked by another process for more than 10 s (another gateway, a backup, a sqlite3 shell in a transaction?): end that or start again later`,
    ]);
  }
  if (code.startsWith('SQLITE_READONLY')) {
    return new ConfigError([`the SQLite database ${path} cannot be written by user ${currentUser()}: ${whatIsReadOnly(path)}`]);
  }
  return undefined;
}

/**
 * Before opening: SQLite opens a database file it may not write read-only, without a word, and the
 * start would pass with every write failing later (a file left by a start as root).
 */
export function unwritableDatabase(path: string): ConfigError | undefined {
  if (!existsSync(path) || isWritable(path)) return undefined;
  return new ConfigError([`the SQLite database ${path} cannot be written by user ${currentUser()}: ${whatIsReadOnly(path)}`]);
}

/** The files SQLite writes (the database, its -wal and -shm files, their directory) that this user may not. */
function whatIsReadOnly(path: string): string {
  const files = [dirname(resolve(path)), path, `${path}-wal`, `${path}-shm`];
  const refused = files.filter((file) => existsSync(file) && !isWritable(file));
  if (refused.length === 0) return `${path}, its -wal and -shm files and its directory must all be writable by it`;
  return `${refused.join(', ')} ${refused.length === 1 ? 'is' : 'are'} not writable by it (left by a start as another user, such as root?); chown them to it, or start as their owner`;
}

function isWritable(file: string): boolean {
  try {
    accessSync(file, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    // A uid without a passwd entry (containers started with --user 1234).
    return 'this user';
  }
}

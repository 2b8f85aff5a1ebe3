/** Recognises the database errors that mean "another transaction got there first": retry. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Why a transaction lost a race and must start over: what an operator reads in its metric. */
export type RetryReason = 'deadlock' | 'serialization' | 'busy' | 'unique' | 'lost-race';

export const RETRY_REASONS: readonly RetryReason[] = ['deadlock', 'serialization', 'busy', 'unique', 'lost-race'];

/** The race a transaction lost, or null when its error is not one that running it again can cure. */
export function retryReason(error: unknown): RetryReason | null {
  if (error instanceof RetryTransaction) return 'lost-race';
  if (isUniqueViolation(error)) return 'unique';
  switch ((error as { code?: unknown } | null)?.code) {
    case '40P01':
      return 'deadlock';
    case '40001':
      return 'serialization';
    // SQLite: the wait for another connection's write lock ran out (connect.ts), or a snapshot went stale.
    case 'SQLITE_BUSY':
    case 'SQLITE_BUSY_SNAPSHOT':
      return 'busy';
    default:
      return null;
  }
}

/** Node's words for a socket to the database that broke or could not be opened. */
const BROKEN_SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);

/**
 * The database could not serve this statement for a while (a restart, a failover, a connection
 * cut, every connection it allows in use): nothing the request asked was wrong, and the same
 * request a moment later may well succeed.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  // PostgreSQL: 08xxx connection exceptions; 53300 too many connections; 57P01-57P03 the server
  // shutting down or starting up.
  if (code.startsWith('08') || ['53300', '57P01', '57P02', '57P03'].includes(code) || BROKEN_SOCKET.has(code)) return true;
  // pg's own errors carry no code: a connection that died under a query, or one never opened in time.
  const message = typeof e?.message === 'string' ? e.message : '';
  return /^Connection terminated|connection error and is not queryable|timeout exceeded when trying to connect/.test(message);
}

/** Thrown inside a transaction when a guarded write found the row changed under it. */
export class RetryTransaction extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'RetryTransaction';
  }
}

import type { Kysely } from 'kysely';
import type { Config } from '../config';
import type { HotReads } from '../db/hot';
import type { DB } from '../db/schema';
import type { SqliteCharges } from '../db/sqlite-charges';
import type { Clock } from '../lib/clock';
import type { KeyRing } from '../signing/keyring';
import type { WarmLaunches } from './warm-launches';

/** What every service needs; built once in `createApp` and passed explicitly. */
export interface ServiceContext {
  readonly db: Kysely<DB>;
  readonly clock: Clock;
  readonly keys: KeyRing;
  readonly config: Config;
  /** Prepared, read-only launch reads on SQLite files (issue 7); null on PostgreSQL and :memory:. */
  readonly hot?: HotReads | null;
  /** Decided warm launches, rechecked against the database on every use (issue 7); null when off. */
  readonly warm?: WarmLaunches | null;
  /** SQLite files: charges as prepared statements, committed in groups (issue 7); null elsewhere. */
  readonly charges?: SqliteCharges | null;
}

/** Who asked, for the ledger's "who" (R5). */
export type Actor = { kind: 'operator' } | { kind: 'admin'; id: string } | { kind: 'user'; autodeskId: string } | { kind: 'system' };

export function actorLabel(a: Actor): string {
  switch (a.kind) {
    case 'operator':
      return 'operator';
    case 'admin':
      return `admin:${a.id}`;
    case 'user':
      return `user:${a.autodeskId}`;
    case 'system':
      return 'system';
  }
}

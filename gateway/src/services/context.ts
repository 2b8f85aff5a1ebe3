import type { Kysely } from 'kysely';
import type { Config } from '../config';
import type { DB } from '../db/schema';
import type { Clock } from '../lib/clock';
import type { Passwords } from '../lib/passwords';
import type { KeyRing } from '../signing/keyring';

/** What every service needs; built once in `createApp` and passed explicitly. */
export interface ServiceContext {
  readonly db: Kysely<DB>;
  readonly clock: Clock;
  readonly keys: KeyRing;
  readonly config: Config;
  readonly passwords: Passwords;
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

import type { Kysely } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * Each refresh token records the last revocation of its user that its sign-in came after
 * (`token_revocations.seq`, 0 for none), so that an operator's revocation ends the sign-ins made
 * before it and none made after, by order rather than by clock: a revocation and a sign-in in the
 * same second, or millisecond, are told apart (lib/revocations.ts). Rows from before have none
 * and are judged by time, as they were.
 */
export async function up(db: AnyDB, engine: Engine): Promise<void> {
  await db.schema
    .alterTable('refresh_tokens')
    .addColumn('signed_in_after', engine === 'postgres' ? 'bigint' : 'integer')
    .execute();
}

import type { Kysely } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * Refresh tokens (stored as hashes, single-use, in families: one family per sign-in) and the
 * revocations every instance reads every few seconds (lib/revocations.ts).
 */
export async function up(db: AnyDB, engine: Engine): Promise<void> {
  await db.schema
    .createTable('refresh_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('family', 'text', (c) => c.notNull())
    .addColumn('autodesk_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .execute();
  await db.schema.createIndex('refresh_tokens_by_family').on('refresh_tokens').column('family').execute();
  await db.schema.createIndex('refresh_tokens_by_user').on('refresh_tokens').column('autodesk_id').execute();
  await db.schema
    .createTable('token_revocations')
    .addColumn('seq', engine === 'postgres' ? 'bigserial' : 'integer', (c) =>
      c.primaryKey().$call((b) => (engine === 'sqlite' ? b.autoIncrement() : b)),
    )
    // 'family': one sign-in's tokens; 'user': every token of the user issued before `at`.
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('token_revocations_by_subject').on('token_revocations').columns(['kind', 'subject']).execute();
}

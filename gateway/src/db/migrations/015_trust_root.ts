import { type Kysely, sql } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * The trust root. `root_key` holds the Ed25519 key that signs the key set (one row; absent when
 * the operator gives the key in FLEXGATE_ROOT_KEY_FILE). `key_set.version` grows with every
 * rotation and revocation, in their transactions: clients compare it to refuse an older key set
 * and to notice a newer one. A revoked signing key keeps its row, with `revoked_at`.
 */
export async function up(db: AnyDB, _engine: Engine): Promise<void> {
  await db.schema.alterTable('signing_keys').addColumn('revoked_at', 'text').execute();
  await db.schema
    .createTable('root_key')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('kid', 'text', (c) => c.notNull())
    .addColumn('public_jwk', 'text', (c) => c.notNull())
    .addColumn('private_jwk', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('key_set')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('version', 'integer', (c) => c.notNull())
    .execute();
  await db.insertInto('key_set').values({ id: 1, version: 1 }).execute();
}

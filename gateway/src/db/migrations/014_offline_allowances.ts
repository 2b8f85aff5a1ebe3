import type { Kysely } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * The offline allowances the gateway issued (services/allowance.ts). A provisional launch is
 * charged only when it names one of them: the row says which user it was for, which products it
 * listed, until when and how many slots, so a report is judged without trusting the client.
 */
export async function up(db: AnyDB, _engine: Engine): Promise<void> {
  await db.schema
    .createTable('offline_allowances')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('autodesk_id', 'text', (c) => c.notNull())
    .addColumn('machine', 'text')
    .addColumn('issued_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('launches', 'integer', (c) => c.notNull())
    // JSON: [{product, team}], as signed.
    .addColumn('products', 'text', (c) => c.notNull())
    .execute();
  // A user's allowances by expiry: issuing a new one drops those no report can name any more.
  await db.schema.createIndex('offline_allowances_by_user').on('offline_allowances').columns(['autodesk_id', 'expires_at']).execute();
}

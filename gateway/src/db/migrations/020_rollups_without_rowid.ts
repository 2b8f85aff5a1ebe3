import { type Kysely, sql } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * SQLite: the tables a charge writes a row of by key (the rollups, the ledger heads) become
 * WITHOUT ROWID tables, stored in their primary key's B-tree alone. As rowid tables every new row
 * went into two B-trees, the table and its key's index; a cold launch adds a row to one or more of them.
 * PostgreSQL keeps its heap tables: nothing changes there.
 */
const TABLES: { name: string; key: string[] }[] = [
  { name: 'usage_day_product', key: ['team_id', 'day', 'product_key'] },
  { name: 'usage_day_user', key: ['team_id', 'day', 'autodesk_id'] },
  { name: 'usage_month', key: ['team_id', 'month', 'autodesk_id', 'product_key'] },
  { name: 'license_days', key: ['license_id', 'day'] },
  { name: 'ledger_heads', key: ['team_id'] },
];

export async function up(db: AnyDB, engine: Engine): Promise<void> {
  if (engine !== 'sqlite') return;
  for (const { name, key } of TABLES) {
    // The table's own definition, with its primary key constraint named as the migration made it.
    const row = await sql<{ sql: string }>`select sql from sqlite_master where type = 'table' and name = ${name}`.execute(db);
    const definition = row.rows[0]?.sql;
    if (!definition) throw new Error(`migration 020: no table ${name}`);
    const rebuilt = `${definition.replace(/^create table "?\w+"?/i, `create table "${name}_rebuilt"`)} without rowid`;
    await sql.raw(rebuilt).execute(db);
    await sql.raw(`insert into "${name}_rebuilt" select * from "${name}" order by ${key.map((k) => `"${k}"`).join(', ')}`).execute(db);
    await sql.raw(`drop table "${name}"`).execute(db);
    await sql.raw(`alter table "${name}_rebuilt" rename to "${name}"`).execute(db);
  }
}

import { type Kysely, sql } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * Daily usage rollups, kept by `appendLedger` in the transaction of every charge and
 * refund, so a usage report over a year reads a few thousand rows instead of every ledger entry.
 * Two grains because Flex already charges once per (user, product, day): a (day, user, product)
 * rollup would be as large as the ledger itself. Tokens are charges net of refunds; sessions are
 * charged sessions less fully refunded ones (R15, R7a). The ledger stays the source of truth;
 * this backfill and the tests check the rollups against it.
 */
export async function up(db: AnyDB, _engine: Engine): Promise<void> {
  await db.schema
    .createTable('usage_day_product')
    .addColumn('team_id', 'text', (c) => c.notNull())
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('product_key', 'text', (c) => c.notNull())
    .addColumn('tokens', 'integer', (c) => c.notNull())
    .addColumn('sessions', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('usage_day_product_pk', ['team_id', 'day', 'product_key'])
    .execute();
  await db.schema
    .createTable('usage_day_user')
    .addColumn('team_id', 'text', (c) => c.notNull())
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('autodesk_id', 'text', (c) => c.notNull())
    .addColumn('tokens', 'integer', (c) => c.notNull())
    .addColumn('sessions', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('usage_day_user_pk', ['team_id', 'day', 'autodesk_id'])
    .execute();
  await backfillUsage(db);
}

/** Rebuilds both rollups from the ledger (the migration's backfill; also used by the large-data benchmark). */
export async function backfillUsage(db: AnyDB): Promise<void> {
  for (const [table, column] of [
    ['usage_day_product', 'product_key'],
    ['usage_day_user', 'autodesk_id'],
  ] as const) {
    await sql`
      insert into ${sql.table(table)} (team_id, day, ${sql.ref(column)}, tokens, sessions)
      select team_id, substr(at, 1, 10), ${sql.ref(column)}, -sum(delta),
        count(distinct case when kind = 'charge' then session_id end) - count(distinct case when kind = 'refund' then session_id end)
      from ledger
      where kind in ('charge', 'refund') and ${sql.ref(column)} is not null
      group by team_id, substr(at, 1, 10), ${sql.ref(column)}
    `.execute(db);
  }
}

import { type Kysely, sql } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * Spend: prices as data, a monthly rollup for right-sizing, and the days a license was used.
 * - `products.subscription_price_per_year` and `lots.price_per_token`: optional integers in minor
 *   units of the operator's currency (FLEXGATE_CURRENCY); a transferred part keeps its lot's price.
 * - `usage_month`: tokens by (team, month, user, product), kept with the daily rollups in the
 *   ledger's transaction. The daily rollups have no (user, product) grain, and the ledger at that
 *   grain is as large as itself; a month per pair is what a year's advice needs.
 * - `license_days`: the UTC days a subscription or trial was launched, for "subscribers who barely
 *   used theirs" (nothing else records a launch that charges nothing).
 */
export async function up(db: AnyDB, _engine: Engine): Promise<void> {
  await db.schema.alterTable('products').addColumn('subscription_price_per_year', 'bigint').execute();
  await db.schema.alterTable('lots').addColumn('price_per_token', 'bigint').execute();
  await db.schema
    .createTable('usage_month')
    .addColumn('team_id', 'text', (c) => c.notNull())
    .addColumn('month', 'text', (c) => c.notNull())
    .addColumn('autodesk_id', 'text', (c) => c.notNull())
    .addColumn('product_key', 'text', (c) => c.notNull())
    .addColumn('tokens', 'integer', (c) => c.notNull())
    .addColumn('sessions', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('usage_month_pk', ['team_id', 'month', 'autodesk_id', 'product_key'])
    .execute();
  await db.schema
    .createTable('license_days')
    .addColumn('license_id', 'text', (c) => c.notNull())
    .addColumn('day', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('license_days_pk', ['license_id', 'day'])
    .execute();
  await backfillMonths(db);
}

/** Rebuilds `usage_month` from the ledger (this migration's backfill; also the large-data benchmark's). */
export async function backfillMonths(db: AnyDB): Promise<void> {
  await sql`
    insert into usage_month (team_id, month, autodesk_id, product_key, tokens, sessions)
    select team_id, substr(at, 1, 7), autodesk_id, product_key, -sum(delta),
      count(distinct case when kind = 'charge' then session_id end) - count(distinct case when kind = 'refund' then session_id end)
    from ledger
    where kind in ('charge', 'refund') and autodesk_id is not null and product_key is not null
    group by team_id, substr(at, 1, 7), autodesk_id, product_key
  `.execute(db);
}

import { type Kysely, sql } from 'kysely';
import type { SubscriptionUse } from '../../domain/advice';
import type { DB } from '../schema';
import { foldUsage } from './usage-fold';

/** Queries of the spend reports (forecast, advice, a user's own usage), each written once. */

export async function teamCreatedAt(db: Kysely<DB>, teamId: string): Promise<string | null> {
  const row = await db.selectFrom('teams').select('created_at').where('id', '=', teamId).executeTakeFirst();
  return row?.created_at ?? null;
}

/**
 * The team's use per product (R15: charges net of refunds, from the daily rollup) over the whole
 * UTC days [fromDay, today) and, apart, on `today`, which has not ended: the forecast's burn and
 * the products it is spent on, in one read, with each product's name and daily rate now (R8).
 * Products with any use in the range only, cheapest first.
 */
export async function useByProduct(
  db: Kysely<DB>,
  teamId: string,
  fromDay: string,
  today: string,
): Promise<{ key: string; name: string; dailyRate: number; tokens: number; today: number }[]> {
  await foldUsage(db, teamId);
  const day = sql.ref('usage_day_product.day');
  const tokens = sql.ref('usage_day_product.tokens');
  const rows = await db
    .selectFrom('usage_day_product')
    .innerJoin('products', 'products.key', 'usage_day_product.product_key')
    .select([
      'products.key',
      'products.name',
      'products.daily_rate',
      sql<number>`sum(case when ${day} < ${today} then ${tokens} else 0 end)`.as('tokens'),
      sql<number>`sum(case when ${day} = ${today} then ${tokens} else 0 end)`.as('today'),
    ])
    .where('usage_day_product.team_id', '=', teamId)
    .where('usage_day_product.day', '>=', fromDay)
    .where('usage_day_product.day', '<=', today)
    .groupBy(['products.key', 'products.name', 'products.daily_rate'])
    .orderBy('products.daily_rate')
    .orderBy('products.key')
    .execute();
  return rows.map((r) => ({ key: r.key, name: r.name, dailyRate: Number(r.daily_rate), tokens: Number(r.tokens), today: Number(r.today) }));
}

/** The priced lots bought in [fromIso, toIso): what the team paid for tokens then. */
export async function pricedLots(db: Kysely<DB>, teamId: string, fromIso: string, toIso: string) {
  const rows = await db
    .selectFrom('lots')
    .select(['tokens', 'price_per_token'])
    .where('team_id', '=', teamId)
    .where('purchased_at', '>=', fromIso)
    .where('purchased_at', '<', toIso)
    .where('price_per_token', 'is not', null)
    .execute();
  return rows.map((r) => ({ tokens: Number(r.tokens), pricePerToken: r.price_per_token === null ? null : Number(r.price_per_token) }));
}

/** Tokens and sessions per (user, product) over whole months [fromMonth, toMonth), from the monthly rollup. */
export async function usageByPair(db: Kysely<DB>, teamId: string, fromMonth: string, toMonth: string) {
  await foldUsage(db, teamId);
  const rows = await db
    .selectFrom('usage_month')
    .select(['autodesk_id', 'product_key', sql<number>`sum(tokens)`.as('tokens'), sql<number>`sum(sessions)`.as('sessions')])
    .where('team_id', '=', teamId)
    .where('month', '>=', fromMonth)
    .where('month', '<', toMonth)
    .groupBy(['autodesk_id', 'product_key'])
    .execute();
  return rows.map((r) => ({ autodeskId: r.autodesk_id, product: r.product_key, tokens: Number(r.tokens), sessions: Number(r.sessions) }));
}

/** The subscriptions of the team's members that ran within [fromIso, toIso), with the days they were launched then. */
export async function memberSubscriptions(db: Kysely<DB>, teamId: string, fromIso: string, toIso: string): Promise<SubscriptionUse[]> {
  const rows = await db
    .selectFrom('licenses')
    // Members who accepted only: the licences of a person merely imported or invited are theirs alone.
    .innerJoin('members', (j) =>
      j.onRef('members.autodesk_id', '=', 'licenses.autodesk_id').on('members.team_id', '=', teamId).on('members.status', '=', 'active'),
    )
    .leftJoin('license_days', (j) =>
      j
        .onRef('license_days.license_id', '=', 'licenses.id')
        .on('license_days.day', '>=', fromIso.slice(0, 10))
        .on('license_days.day', '<', toIso.slice(0, 10)),
    )
    .select([
      'licenses.id',
      'licenses.autodesk_id',
      'licenses.product_key',
      'licenses.starts_at',
      'licenses.ends_at',
      sql<number>`count(${sql.ref('license_days.day')})`.as('days'),
    ])
    .where('licenses.kind', '=', 'subscription')
    .where('licenses.starts_at', '<', toIso)
    .where('licenses.ends_at', '>', fromIso)
    .groupBy(['licenses.id', 'licenses.autodesk_id', 'licenses.product_key', 'licenses.starts_at', 'licenses.ends_at'])
    .execute();
  return rows.map((r) => ({
    licenseId: r.id,
    autodeskId: r.autodesk_id,
    product: r.product_key,
    startsAt: r.starts_at,
    endsAt: r.ends_at,
    daysUsed: Number(r.days),
  }));
}

/** Records that a subscription or trial was launched on `day` (once per day: a repeat changes nothing). */
export async function noteLicenseDay(db: Kysely<DB>, licenseId: string, day: string): Promise<void> {
  await db
    .insertInto('license_days')
    .values({ license_id: licenseId, day })
    .onConflict((oc) => oc.columns(['license_id', 'day']).doNothing())
    .execute();
}

/**
 * One user's Flex use over [fromIso, toIso), by the UTC day its sessions started, product and team:
 * tokens charged net of refunds, and sessions not refunded in full (R15, R7a), whichever team paid.
 */
export async function usageOfUser(db: Kysely<DB>, autodeskId: string, fromIso: string, toIso: string) {
  const day = sql<string>`substr(${sql.ref('usage_sessions.starts_at')}, 1, 10)`;
  const rows = await db
    .selectFrom('usage_sessions')
    .innerJoin('products', 'products.key', 'usage_sessions.product_key')
    .innerJoin('teams', 'teams.id', 'usage_sessions.team_id')
    .select([
      day.as('day'),
      'usage_sessions.product_key',
      'products.name as product_name',
      'usage_sessions.team_id',
      'teams.name as team_name',
      sql<number>`sum(${sql.ref('usage_sessions.charged')} - ${sql.ref('usage_sessions.refunded')})`.as('tokens'),
      sql<number>`sum(case when ${sql.ref('usage_sessions.charged')} > ${sql.ref('usage_sessions.refunded')} then 1 else 0 end)`.as(
        'sessions',
      ),
    ])
    .where('usage_sessions.autodesk_id', '=', autodeskId)
    .where('usage_sessions.starts_at', '>=', fromIso)
    .where('usage_sessions.starts_at', '<', toIso)
    .groupBy([day, 'usage_sessions.product_key', 'products.name', 'usage_sessions.team_id', 'teams.name'])
    .orderBy(day)
    .orderBy('usage_sessions.product_key')
    .orderBy('usage_sessions.team_id')
    .execute();
  return rows.map((r) => ({
    day: String(r.day),
    product: r.product_key,
    productName: r.product_name,
    team: r.team_id,
    teamName: r.team_name,
    sessions: Number(r.sessions),
    tokens: Number(r.tokens),
  }));
}

import type { Product } from '@flexgate/shared';
import type { Kysely } from 'kysely';
import { shaped } from '../compiled';
import { known, type Read, read, readOne } from '../reads';
import type { DB } from '../schema';

const toProduct = (r: {
  key: string;
  name: string;
  daily_rate: number;
  added_at: string;
  subscription_price_per_year: number | null;
}): Product => ({
  key: r.key,
  name: r.name,
  dailyRate: Number(r.daily_rate),
  addedAt: r.added_at,
  subscriptionPricePerYear: r.subscription_price_per_year === null ? null : Number(r.subscription_price_per_year),
});

export async function findProduct(db: Kysely<DB>, key: string): Promise<Product | null> {
  const row = await db.selectFrom('products').selectAll().where('key', '=', key).executeTakeFirst();
  return row ? toProduct(row) : null;
}

/** Several products by key, in one statement (a group of charges, a batch of launches). */
const productsQuery = shaped((db, a: { keys: string[] }) => db.selectFrom('products').selectAll().where('key', 'in', a.keys));

export async function findProducts(db: Kysely<DB>, keys: readonly string[]): Promise<Map<string, Product>> {
  return readOne(db, productsRead(db, keys));
}

/** `findProducts` as a read to send with others (`readAll`). */
export function productsRead(db: Kysely<DB>, keys: readonly string[]): Read<Map<string, Product>> {
  if (keys.length === 0) return known(new Map());
  return read(productsQuery(db, { keys: [...keys] }), (rows) => new Map(rows.map((r) => [r.key, toProduct(r)])));
}

export async function listProducts(db: Kysely<DB>): Promise<Product[]> {
  const rows = await db.selectFrom('products').selectAll().orderBy('name').orderBy('key').execute();
  return rows.map(toProduct);
}

export async function listProductKeys(db: Kysely<DB>): Promise<string[]> {
  const rows = await db.selectFrom('products').select('key').orderBy('key').execute();
  return rows.map((r) => r.key);
}

/** Returns false when the key is taken. */
export async function insertProduct(db: Kysely<DB>, p: Product): Promise<boolean> {
  const res = await db
    .insertInto('products')
    .values({
      key: p.key,
      name: p.name,
      daily_rate: p.dailyRate,
      added_at: p.addedAt,
      subscription_price_per_year: p.subscriptionPricePerYear,
    })
    .onConflict((oc) => oc.column('key').doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
}

/** A rate (R8) and/or a subscription price (null clears it); what is undefined stays. */
export async function updateProduct(
  db: Kysely<DB>,
  key: string,
  change: { dailyRate?: number | undefined; subscriptionPricePerYear?: number | null | undefined },
): Promise<Product | null> {
  await db
    .updateTable('products')
    .set({
      ...(change.dailyRate !== undefined && { daily_rate: change.dailyRate }),
      ...(change.subscriptionPricePerYear !== undefined && { subscription_price_per_year: change.subscriptionPricePerYear }),
    })
    .where('key', '=', key)
    .execute();
  return findProduct(db, key);
}

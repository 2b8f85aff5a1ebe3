import type { CreateProductBody, Product } from '@flexgate/shared';
import { findProduct, insertProduct, listProducts, updateRate } from '../db/repos/catalog';
import { conflict, DomainError } from '../domain/errors';
import type { ServiceContext } from './context';

export async function createProduct(ctx: ServiceContext, body: CreateProductBody): Promise<Product> {
  const product: Product = { ...body, addedAt: ctx.clock.now().toISOString() };
  if (!(await insertProduct(ctx.db, product))) throw conflict(`A product with key "${body.key}" already exists.`);
  return product;
}

/** R8: a new rate applies to sessions opened after it; open sessions keep the rate they were charged. */
export async function setDailyRate(ctx: ServiceContext, key: string, dailyRate: number): Promise<Product> {
  const updated = await updateRate(ctx.db, key, dailyRate);
  if (!updated) throw new DomainError('unknown-product', `No product "${key}" in the catalog.`);
  return updated;
}

export const catalog = (ctx: ServiceContext) => listProducts(ctx.db);
export const product = (ctx: ServiceContext, key: string) => findProduct(ctx.db, key);

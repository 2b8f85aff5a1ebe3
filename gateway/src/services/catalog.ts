import type { CreateProductBody, Product, UpdateProductBody } from '@flexgate/shared';
import { findProduct, insertProduct, listProducts, updateProduct } from '../db/repos/catalog';
import { conflict, DomainError } from '../domain/errors';
import type { ServiceContext } from './context';

export async function createProduct(ctx: ServiceContext, body: CreateProductBody): Promise<Product> {
  const product: Product = {
    key: body.key,
    name: body.name,
    dailyRate: body.dailyRate,
    addedAt: ctx.clock.now().toISOString(),
    subscriptionPricePerYear: body.subscriptionPricePerYear ?? null,
  };
  if (!(await insertProduct(ctx.db, product))) throw conflict(`A product with key "${body.key}" already exists.`);
  return product;
}

/**
 * R8: a new rate applies to sessions opened after it; open sessions keep the rate they were charged.
 * The subscription price only feeds the advice (services/advice.ts).
 */
export async function changeProduct(ctx: ServiceContext, key: string, change: UpdateProductBody): Promise<Product> {
  const updated = await updateProduct(ctx.db, key, change);
  if (!updated) throw new DomainError('unknown-product', `No product "${key}" in the catalog.`);
  return updated;
}

export const catalog = (ctx: ServiceContext) => listProducts(ctx.db);
export const product = (ctx: ServiceContext, key: string) => findProduct(ctx.db, key);

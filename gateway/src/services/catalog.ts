import type { CreateProductBody, Product, UpdateProductBody } from '@flexgate/shared';
import { findProduct, insertProduct, listProducts, updateProduct } from '../db/repos/catalog';
import { inTransaction, serialize } from '../db/tx';
import type { AuditOrigin } from '../domain/audit';
import { conflict, DomainError } from '../domain/errors';
import { audit } from './audit';
import type { ServiceContext } from './context';

export async function createProduct(ctx: ServiceContext, body: CreateProductBody, origin: AuditOrigin): Promise<Product> {
  const product: Product = {
    key: body.key,
    name: body.name,
    dailyRate: body.dailyRate,
    addedAt: ctx.clock.now().toISOString(),
    subscriptionPricePerYear: body.subscriptionPricePerYear ?? null,
  };
  await inTransaction(ctx.db, async (trx) => {
    if (!(await insertProduct(trx, product))) throw conflict(`A product with key "${body.key}" already exists.`);
    await audit(trx, origin, product.addedAt, { team: null, action: 'catalog.product.added', target: product.key, after: body });
  });
  return product;
}

/**
 * R8: a new rate applies to sessions opened after it; open sessions keep the rate they were charged.
 * The subscription price only feeds the advice (services/advice.ts).
 */
export async function changeProduct(ctx: ServiceContext, key: string, change: UpdateProductBody, origin: AuditOrigin): Promise<Product> {
  return inTransaction(ctx.db, async (trx) => {
    // Two changes at once: each audit entry's before is what the other left.
    await serialize(trx, `product:${key}`);
    const before = await findProduct(trx, key);
    const updated = before ? await updateProduct(trx, key, change) : null;
    if (!before || !updated) throw new DomainError('unknown-product', `No product "${key}" in the catalog.`);
    const was = {
      ...(change.dailyRate !== undefined && { dailyRate: before.dailyRate }),
      ...(change.subscriptionPricePerYear !== undefined && { subscriptionPricePerYear: before.subscriptionPricePerYear }),
    };
    await audit(trx, origin, ctx.clock.now().toISOString(), {
      team: null,
      // The rate keeps its action name (names are never renamed); a price alone is a change of the product.
      action: change.dailyRate !== undefined ? 'catalog.rate.changed' : 'catalog.product.changed',
      target: key,
      before: was,
      after: change,
    });
    return updated;
  });
}

export const catalog = (ctx: ServiceContext) => listProducts(ctx.db);
export const product = (ctx: ServiceContext, key: string) => findProduct(ctx.db, key);

import type { CreateProductBody, Product } from '@flexgate/shared';
import { findProduct, insertProduct, listProducts, updateRate } from '../db/repos/catalog';
import { inTransaction } from '../db/tx';
import type { AuditOrigin } from '../domain/audit';
import { conflict, DomainError } from '../domain/errors';
import { audit } from './audit';
import type { ServiceContext } from './context';

export async function createProduct(ctx: ServiceContext, body: CreateProductBody, origin: AuditOrigin): Promise<Product> {
  const product: Product = { ...body, addedAt: ctx.clock.now().toISOString() };
  await inTransaction(ctx.db, async (trx) => {
    if (!(await insertProduct(trx, product))) throw conflict(`A product with key "${body.key}" already exists.`);
    await audit(trx, origin, product.addedAt, { team: null, action: 'catalog.product.added', target: product.key, after: body });
  });
  return product;
}

/** R8: a new rate applies to sessions opened after it; open sessions keep the rate they were charged. */
export async function setDailyRate(ctx: ServiceContext, key: string, dailyRate: number, origin: AuditOrigin): Promise<Product> {
  return inTransaction(ctx.db, async (trx) => {
    const before = await findProduct(trx, key);
    const updated = before ? await updateRate(trx, key, dailyRate) : null;
    if (!before || !updated) throw new DomainError('unknown-product', `No product "${key}" in the catalog.`);
    await audit(trx, origin, ctx.clock.now().toISOString(), {
      team: null,
      action: 'catalog.rate.changed',
      target: key,
      before: { dailyRate: before.dailyRate },
      after: { dailyRate },
    });
    return updated;
  });
}

export const catalog = (ctx: ServiceContext) => listProducts(ctx.db);
export const product = (ctx: ServiceContext, key: string) => findProduct(ctx.db, key);

import { findProduct } from '../db/repos/catalog';
import { insertLicense } from '../db/repos/licenses';
import { inTransaction } from '../db/tx';
import type { AuditOrigin } from '../domain/audit';
import { DomainError, invalid } from '../domain/errors';
import type { LicenseFact } from '../domain/precedence';
import { newId } from '../lib/ids';
import { audit } from './audit';
import type { ServiceContext } from './context';

/** Records a single-user subscription or a trial (R9), for one Autodesk ID and one product. */
export async function grantLicense(
  ctx: ServiceContext,
  kind: 'subscription' | 'trial',
  input: { autodeskId: string; product: string; startsAt?: string; endsAt: string },
  origin: AuditOrigin,
): Promise<LicenseFact> {
  if (!(await findProduct(ctx.db, input.product))) {
    throw new DomainError('unknown-product', `No product "${input.product}" in the catalog.`);
  }
  const startsAt = new Date(input.startsAt ?? ctx.clock.now()).toISOString();
  const endsAt = new Date(input.endsAt).toISOString();
  if (endsAt <= startsAt) throw invalid('endsAt must come after startsAt.');
  const license: LicenseFact = {
    id: newId(kind === 'trial' ? 'trl' : 'sub', 9),
    kind,
    autodeskId: input.autodeskId,
    product: input.product,
    startsAt,
    endsAt,
  };
  const at = ctx.clock.now().toISOString();
  await inTransaction(ctx.db, async (trx) => {
    await insertLicense(trx, { ...license, createdAt: at });
    const { id, ...after } = license;
    await audit(trx, origin, at, { team: null, action: 'license.granted', target: id, after });
  });
  return license;
}

import type { Kysely } from 'kysely';
import type { LicenseFact } from '../../domain/precedence';
import type { DB } from '../schema';

export async function insertLicense(db: Kysely<DB>, l: LicenseFact & { createdAt: string }): Promise<void> {
  await db
    .insertInto('licenses')
    .values({
      id: l.id,
      kind: l.kind,
      autodesk_id: l.autodeskId,
      product_key: l.product,
      starts_at: l.startsAt,
      ends_at: l.endsAt,
      created_at: l.createdAt,
    })
    .execute();
}

/** Licenses of one Autodesk ID still running at `nowIso` (R10: keyed on the exact ID). */
export async function currentLicenses(db: Kysely<DB>, autodeskId: string, nowIso: string, product?: string): Promise<LicenseFact[]> {
  let q = db.selectFrom('licenses').selectAll().where('autodesk_id', '=', autodeskId).where('ends_at', '>', nowIso);
  if (product !== undefined) q = q.where('product_key', '=', product);
  const rows = await q.orderBy('ends_at', 'desc').execute();
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    autodeskId: r.autodesk_id,
    product: r.product_key,
    startsAt: r.starts_at,
    endsAt: r.ends_at,
  }));
}

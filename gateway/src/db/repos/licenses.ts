import type { Kysely } from 'kysely';
import type { LicenseFact } from '../../domain/precedence';
import { shaped } from '../compiled';
import { known, type Read, read, readOne } from '../reads';
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
export async function currentLicenses(db: Kysely<DB>, autodeskId: string, nowIso: string): Promise<LicenseFact[]> {
  return (await licensesOf(db, [autodeskId], nowIso)).get(autodeskId) ?? [];
}

const licensesQuery = shaped((db, a: { ids: string[]; now: string }) =>
  db.selectFrom('licenses').selectAll().where('autodesk_id', 'in', a.ids).where('ends_at', '>', a.now).orderBy('ends_at', 'desc'),
);

/** The licenses of several Autodesk IDs still running at `nowIso`, in one query: by ID, the longest-running first. */
export async function licensesOf(db: Kysely<DB>, autodeskIds: readonly string[], nowIso: string): Promise<Map<string, LicenseFact[]>> {
  return readOne(db, licensesRead(db, autodeskIds, nowIso));
}

/** `licensesOf` as a read to send with others (`readAll`). */
export function licensesRead(db: Kysely<DB>, autodeskIds: readonly string[], nowIso: string): Read<Map<string, LicenseFact[]>> {
  if (autodeskIds.length === 0) return known(new Map());
  return read(licensesQuery(db, { ids: [...new Set(autodeskIds)], now: nowIso }), licensesByUser);
}

function licensesByUser(
  rows: readonly { id: string; kind: LicenseFact['kind']; autodesk_id: string; product_key: string; starts_at: string; ends_at: string }[],
) {
  const out = new Map<string, LicenseFact[]>();
  for (const r of rows) {
    const fact: LicenseFact = {
      id: r.id,
      kind: r.kind,
      autodeskId: r.autodesk_id,
      product: r.product_key,
      startsAt: r.starts_at,
      endsAt: r.ends_at,
    };
    const list = out.get(r.autodesk_id);
    if (list) list.push(fact);
    else out.set(r.autodesk_id, [fact]);
  }
  return out;
}

import { connect } from '@flexgate/gateway';
import { appendAudit } from '../../gateway/src/db/repos/audit';
import type { AuditRecord } from '../../gateway/src/domain/audit';

/** One audit entry as the gateway stores it (`before`/`after` as JSON text, as `auditRecord` writes them). */
export type SeedAudit = AuditRecord;

/**
 * A long audit trail, written straight into `audit_log` a thousand rows a statement, by the
 * gateway's own `appendAudit`: through the API each entry would take a whole change. `rows` in
 * time order (ids follow them).
 */
export async function writeAudit(url: string, rows: readonly SeedAudit[]): Promise<void> {
  const handle = connect({ url });
  try {
    for (let i = 0; i < rows.length; i += 1000) await handle.db.transaction().execute((trx) => appendAudit(trx, rows.slice(i, i + 1000)));
  } finally {
    await handle.close();
  }
}

/**
 * `n` entries of a team (or operator-wide ones, `teamId` null) from `firstAt`, a second apart,
 * with the texts a CSV must quote or guard: commas, quotes, line breaks, a leading `=`.
 */
export function auditRows(teamId: string | null, n: number, firstAt: number, tag: string): SeedAudit[] {
  return Array.from({ length: n }, (_, i) => ({
    teamId,
    at: new Date(firstAt + i * 1000).toISOString(),
    actor: i % 7 === 0 ? 'operator' : `admin:adm_${tag}_${i % 13}`,
    action: (['member.invited', 'member.products.changed', 'tokens.purchased', 'defaults.changed'] as const)[i % 4] as SeedAudit['action'],
    target: i % 5 === 0 ? null : `u${i}.${tag}@example.com`,
    before: i % 3 === 0 ? null : JSON.stringify({ products: ['autocad', 'maya'], note: `a "quoted", text\nline ${i}` }),
    after: JSON.stringify({ products: i % 2 ? ['revit'] : [], name: i % 11 === 0 ? '=SUM(A1)' : `Person ${i}` }),
    requestId: i % 4 === 0 ? null : `req-${tag}-${i}`,
  }));
}

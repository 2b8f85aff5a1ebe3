import type { Kysely } from 'kysely';
import type { AuditRecord } from '../../domain/audit';
import type { DB } from '../schema';
import type { Tx } from '../tx';

export interface AuditRow {
  id: number;
  teamId: string | null;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  before: string | null;
  after: string | null;
  requestId: string | null;
}

/** Appends entries in the caller's transaction: a change that rolls back leaves no entry behind. */
export async function appendAudit(trx: Tx, records: readonly AuditRecord[]): Promise<void> {
  if (records.length === 0) return;
  await trx
    .insertInto('audit_log')
    .values(
      records.map((r) => ({
        team_id: r.teamId,
        at: r.at,
        actor: r.actor,
        action: r.action,
        target: r.target,
        before: r.before,
        after: r.after,
        request_id: r.requestId,
      })),
    )
    .execute();
}

export interface AuditFilter {
  /** A team's entries; `null`: only those of no team; undefined: every entry (the operator's view). */
  team?: string | null;
  action?: { exact: string } | { prefix: string } | null;
  actor?: string | undefined;
  /** [from, to) as ISO instants. */
  from?: string | undefined;
  to?: string | undefined;
  /** Keyset cursor: entries with a smaller id. */
  before?: number | undefined;
  limit: number;
}

/** Newest first, by id (the order of the commits' inserts), one page at a time. */
export async function listAudit(db: Kysely<DB>, f: AuditFilter): Promise<AuditRow[]> {
  let q = db.selectFrom('audit_log').selectAll();
  if (f.team === null) q = q.where('team_id', 'is', null);
  else if (f.team !== undefined) q = q.where('team_id', '=', f.team);
  if (f.action && 'exact' in f.action) q = q.where('action', '=', f.action.exact);
  else if (f.action) q = q.where('action', 'like', `${f.action.prefix.replace(/[%_\\]/g, '')}%`);
  // An admin's id alone: what it did with its key and in the console, the two actors it is stored as.
  if (f.actor?.startsWith('adm_')) q = q.where('actor', 'in', [`admin:${f.actor}`, `console:${f.actor}`]);
  else if (f.actor !== undefined) q = q.where('actor', '=', f.actor);
  if (f.from !== undefined) q = q.where('at', '>=', f.from);
  if (f.to !== undefined) q = q.where('at', '<', f.to);
  if (f.before !== undefined) q = q.where('id', '<', f.before);
  const rows = await q.orderBy('id', 'desc').limit(f.limit).execute();
  return rows.map((r) => ({
    id: Number(r.id),
    teamId: r.team_id,
    at: r.at,
    actor: r.actor,
    action: r.action,
    target: r.target,
    before: r.before,
    after: r.after,
    requestId: r.request_id,
  }));
}

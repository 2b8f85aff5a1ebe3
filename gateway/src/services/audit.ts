import type { AuditEntryView, AuditQuery } from '@flexgate/shared';
import { appendAudit, listAudit } from '../db/repos/audit';
import type { Tx } from '../db/tx';
import {
  type AuditAction,
  type AuditActor,
  type AuditOrigin,
  actionFilter,
  auditCsvHeader,
  auditCsvLines,
  auditRecord,
} from '../domain/audit';
import { invalid } from '../domain/errors';
import { emptyRange, reportRange } from '../domain/report';
import { bytesOf } from '../lib/bodies';
import { pagesInTurns } from '../lib/turns';
import type { Actor, ServiceContext } from './context';

export type { AuditOrigin };

/** The origin of a change made through the API by `actor` (the ledger's who) in request `requestId`. */
export function originOf(actor: Actor, requestId: string | null = null, via: 'api' | 'console' = 'api'): AuditOrigin {
  const who: AuditActor =
    actor.kind === 'admin'
      ? { kind: 'admin', id: actor.id, via }
      : actor.kind === 'user'
        ? { kind: 'user', autodeskId: actor.autodeskId }
        : actor.kind === 'operator'
          ? { kind: 'operator' }
          : { kind: 'system' };
  return { actor: who, requestId };
}

/** Records actions in the transaction of their change (the same commit, or neither). */
export function audit(
  trx: Tx,
  origin: AuditOrigin,
  at: string,
  ...entries: { team: string | null; action: AuditAction; target?: string | null; before?: unknown; after?: unknown }[]
): Promise<void> {
  return appendAudit(
    trx,
    entries.map((e) => auditRecord(origin, at, e)),
  );
}

const parse = (text: string | null): unknown => (text === null ? null : JSON.parse(text));

/**
 * The instants a trail's `from`/`to` stand for: `from` alone runs to now and `to` alone from the
 * beginning, unlike a report's 30 days; both, and the range is empty, is refused as a report's is.
 */
function auditRange(ctx: ServiceContext, q: { from?: string | undefined; to?: string | undefined }): { from?: string; to?: string } {
  if (q.from === undefined && q.to === undefined) return {};
  const range = reportRange(q.from, q.to, ctx.clock.now());
  const empty = q.from !== undefined && q.to !== undefined ? emptyRange(range) : undefined;
  if (empty) throw invalid(empty);
  return { ...(q.from !== undefined && { from: range.from }), ...(q.to !== undefined && { to: range.to }) };
}

/**
 * A page of the trail, newest first: a team's (`team`), only the operator-wide entries (`null`),
 * or all of them (undefined). `next` is the cursor of the following page, null on the last one.
 */
export async function auditTrail(
  ctx: ServiceContext,
  team: string | null | undefined,
  q: Omit<AuditQuery, 'format'>,
): Promise<{ entries: AuditEntryView[]; next: number | null }> {
  const { from, to } = auditRange(ctx, q);
  // One more than asked tells whether another page follows, without a count.
  const rows = await listAudit(ctx.db, {
    team,
    action: actionFilter(q.action),
    actor: q.actor,
    from,
    to,
    before: q.before,
    limit: q.limit + 1,
  });
  const page = rows.slice(0, q.limit);
  const entries = page.map((r) => ({
    id: r.id,
    at: r.at,
    team: r.teamId,
    actor: r.actor,
    action: r.action,
    target: r.target,
    before: parse(r.before),
    after: parse(r.after),
    requestId: r.requestId,
  }));
  return { entries, next: rows.length > q.limit ? (page.at(-1)?.id ?? null) : null };
}

/**
 * The whole filtered trail as CSV (at most `AUDIT_CSV_MAX` entries, newest first), through the
 * API's pages, a page a statement with a turn between pages. The first page fixes the upper end:
 * later pages read below it, and an entry written meanwhile takes a larger id (on PostgreSQL one
 * inserted before that page but committed after it may still show).
 */
export const AUDIT_CSV_MAX = 100_000;
export function auditCsvExport(
  ctx: ServiceContext,
  team: string | null | undefined,
  q: Omit<AuditQuery, 'format' | 'limit' | 'before'>,
): Promise<Uint8Array<ArrayBuffer>> {
  // Refused before the download starts: once streaming, a refusal could no longer be answered.
  auditRange(ctx, q);
  const pages = pagesInTurns(AUDIT_CSV_MAX, async (limit, last: AuditEntryView | undefined) => {
    return (await auditTrail(ctx, team, { ...q, limit, ...(last ? { before: last.id } : {}) })).entries;
  });
  return bytesOf(
    (async function* () {
      yield auditCsvHeader();
      for await (const entries of pages) yield auditCsvLines(entries);
    })(),
  );
}

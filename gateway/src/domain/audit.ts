import type { AuditEntryView } from '@flexgate/shared';
import { csvField, csvLine, csvText } from './csv';

/**
 * The audit trail's vocabulary: every admin and operator action has a stable dotted name, so a
 * filter or an alert written today still matches next year. Adding a name is fine; renaming one
 * is not.
 */
export const AUDIT_ACTIONS = [
  'member.invited',
  'member.products.changed',
  'member.guest.changed',
  'member.removed',
  'members.imported',
  'invitation.resent',
  'invitations.sent',
  'invitation.accepted',
  'invitation.declined',
  'defaults.changed',
  'tokens.purchased',
  'tokens.transferred',
  'catalog.product.added',
  'catalog.rate.changed',
  'catalog.product.changed',
  'team.created',
  'admin.created',
  'admin.removed',
  'credentials.key.rotated',
  'credentials.key.revoked',
  'account.created',
  'license.granted',
  'user.revoked',
  'signing-key.rotated',
  'signing-key.revoked',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Who acted: an admin through the API (its key) or the console (a session of that admin), the operator, or a person. */
export type AuditActor =
  | { kind: 'operator' }
  | { kind: 'system' }
  | { kind: 'admin'; id: string; via: 'api' | 'console' }
  | { kind: 'user'; autodeskId: string };

/** The label stored and filtered on: `operator`, `admin:<id>`, `console:<id>`, `user:<Autodesk ID>`. */
export function auditActorLabel(a: AuditActor): string {
  switch (a.kind) {
    case 'operator':
      return 'operator';
    case 'system':
      return 'system';
    case 'admin':
      return `${a.via === 'console' ? 'console' : 'admin'}:${a.id}`;
    case 'user':
      return `user:${a.autodeskId}`;
  }
}

/** An action about to be recorded, before the database gives it an id. */
export interface AuditRecord {
  teamId: string | null;
  at: string;
  actor: string;
  action: AuditAction;
  target: string | null;
  before: string | null;
  after: string | null;
  requestId: string | null;
}

/** Where an action came from: who, and the request that carried it (its X-Request-Id). */
export interface AuditOrigin {
  actor: AuditActor;
  requestId: string | null;
}

/** Shapes one entry; before/after are kept as JSON text (null where the action has none). */
export function auditRecord(
  origin: AuditOrigin,
  at: string,
  e: { team: string | null; action: AuditAction; target?: string | null; before?: unknown; after?: unknown },
): AuditRecord {
  return {
    teamId: e.team,
    at,
    actor: auditActorLabel(origin.actor),
    action: e.action,
    target: e.target ?? null,
    before: e.before === undefined ? null : JSON.stringify(e.before),
    after: e.after === undefined ? null : JSON.stringify(e.after),
    requestId: origin.requestId,
  };
}

/** `member.*` matches the family, anything else the one action: the filter a listing applies. */
export function actionFilter(action: string | undefined): { exact: string } | { prefix: string } | null {
  if (action === undefined) return null;
  return action.endsWith('.*') ? { prefix: action.slice(0, -1) } : { exact: action };
}

export const AUDIT_CSV_COLUMNS = ['At', 'Team', 'Actor', 'Action', 'Target', 'Before', 'After', 'Request id'] as const;

/** The trail as CSV (RFC 4180, CRLF); text cells are guarded against spreadsheet formulas, as the usage export's. */
export const auditCsv = (rows: readonly AuditCsvRow[]): string => auditCsvHeader() + auditCsvLines(rows);

/** A CSV line's entry: the API's view of it, without its id. */
export type AuditCsvRow = Omit<AuditEntryView, 'id'>;

export const auditCsvHeader = (): string => csvLine(AUDIT_CSV_COLUMNS.map(csvField));

/** Lines of the trail's CSV, one per entry, without the header: a long trail is written a page at a time. */
export function auditCsvLines(rows: readonly AuditCsvRow[]): string {
  const json = (v: unknown) => (v === null || v === undefined ? '' : csvText(JSON.stringify(v)));
  let out = '';
  for (const r of rows) {
    out += csvLine([
      csvField(r.at),
      csvText(r.team ?? ''),
      csvText(r.actor),
      csvField(r.action),
      csvText(r.target ?? ''),
      json(r.before),
      json(r.after),
      // The caller's X-Request-Id: a text like any other a client chose (`-A1` would be a formula).
      csvText(r.requestId ?? ''),
    ]);
  }
  return out;
}

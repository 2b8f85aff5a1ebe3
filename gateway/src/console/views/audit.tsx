import type { AuditEntryView } from '@flexgate/shared';
import type { FC } from 'hono/jsx';
import { AUDIT_ACTIONS } from '../../domain/audit';
import { day, instant, teamPath, withInstants } from './format';
import { TableWrap } from './layout';

export interface AuditForm {
  action: string;
  actor: string;
  from: string;
  to: string;
}

/** Families first (member.*), then each action: what the filter's select offers. */
const FAMILIES = [...new Set(AUDIT_ACTIONS.map((a) => a.split('.')[0]))].map((f) => `${f}.*`);

/**
 * A before or after value in a line: `{"products":["autocad"]}` → `products: autocad`, its
 * instants as the console writes them (`expiresAt: 22 Mar 2026, 10:00 UTC`).
 */
function brief(v: unknown): string {
  return withInstants(line(v));
}
function line(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v !== 'object') return String(v);
  return Object.entries(v as Record<string, unknown>)
    .map(
      ([k, x]) =>
        `${k}: ${Array.isArray(x) ? (x.length === 0 ? '(none)' : x.map((i) => (typeof i === 'object' ? JSON.stringify(i) : String(i))).join(', ')) : typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x)}`,
    )
    .join('; ');
}

/** Who, as a person reads it: the admin's name when known. */
function who(actor: string, admins: Map<string, string>): string {
  const [kind, id = ''] = actor.split(/:(.*)/s);
  if (kind === 'admin') return `${admins.get(id) ?? id} (API key)`;
  if (kind === 'console') return `${admins.get(id) ?? id} (console)`;
  if (kind === 'user') return id;
  return kind === 'operator' ? 'Platform operator' : actor;
}

/** Who, linked to everything that actor did (an admin: with its key and in the console both). */
function whoLink(actor: string, admins: Map<string, string>, teamId: string) {
  const [kind, id = ''] = actor.split(/:(.*)/s);
  const filter = kind === 'admin' || kind === 'console' ? id : actor;
  return <a href={`${teamPath(teamId, '/audit')}?${new URLSearchParams([['actor', filter]])}`}>{who(actor, admins)}</a>;
}

export const AuditView: FC<{
  team: { id: string; name: string };
  form: AuditForm;
  entries: AuditEntryView[];
  next: number | null;
  first: boolean;
  admins: Map<string, string>;
}> = ({ team, form, entries, next, first, admins }) => {
  const q = new URLSearchParams(Object.entries(form).filter(([, v]) => v !== ''));
  const csv = new URLSearchParams(q);
  return (
    <>
      <h1>Audit trail</h1>
      <p class="lead">
        Every change made to this team by its admins and the platform operator, newest first. Entries can never be edited or deleted.
      </p>
      <form method="get" action={teamPath(team.id, '/audit')} class="panel filters">
        <label class="field">
          <span>Action</span>
          <select name="action">
            <option value="" selected={form.action === ''}>
              any
            </option>
            {[...FAMILIES, ...AUDIT_ACTIONS].map((a) => (
              <option value={a} selected={form.action === a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>Actor</span>
          <input
            type="text"
            name="actor"
            value={form.actor}
            placeholder="adm_… (an admin, key and console), operator or user:…"
            maxlength={300}
            spellcheck={false}
          />
        </label>
        <label class="field">
          <span>From</span>
          <input type="date" name="from" value={form.from} />
        </label>
        <label class="field">
          <span>To</span>
          <input type="date" name="to" value={form.to} />
        </label>
        <div class="filter-buttons">
          <button type="submit" class="btn primary">
            Show
          </button>
          <a class="btn" href={`${teamPath(team.id, '/audit.csv')}${csv.size > 0 ? `?${csv}` : ''}`} download>
            Download CSV
          </a>
        </div>
      </form>
      {entries.length === 0 ? (
        <p class="panel empty">No entry matches.</p>
      ) : (
        <TableWrap label="Audit trail">
          <table class="audit">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">Change</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr data-action={e.action}>
                  <td>
                    {day(e.at)}
                    <div class="sub">{instant(e.at).split(', ')[1]}</div>
                  </td>
                  <td title={e.actor}>{whoLink(e.actor, admins, team.id)}</td>
                  <td>
                    <code>{e.action}</code>
                    {e.target ? <div class="sub">{e.target}</div> : null}
                  </td>
                  <td class="why" title={e.requestId ? `request ${e.requestId}` : undefined}>
                    {e.before !== null ? <div class="sub">Before: {brief(e.before)}</div> : null}
                    {e.after !== null ? <div class="sub">After: {brief(e.after)}</div> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <nav class="pager" aria-label="Audit pages">
        {first ? <a href={`${teamPath(team.id, '/audit')}${q.size > 0 ? `?${q}` : ''}`}>Newest entries</a> : null}
        {next !== null ? (
          <a href={`${teamPath(team.id, '/audit')}?${new URLSearchParams([...q, ['before', String(next)]])}`}>Older entries</a>
        ) : null}
      </nav>
    </>
  );
};

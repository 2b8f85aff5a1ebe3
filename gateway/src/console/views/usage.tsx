import type { UsageResponse } from '@flexgate/shared';
import type { FC } from 'hono/jsx';
import { day, memberPath, num, teamPath } from './format';
import { TableWrap } from './layout';

export interface UsageForm {
  from: string;
  to: string;
  by: 'user' | 'product' | 'day';
}

const BY_LABEL = { user: 'User', product: 'Product', day: 'Day (UTC)' } as const;

export const UsageView: FC<{
  team: { id: string; name: string };
  form: UsageForm;
  report: UsageResponse | null;
  labels: Map<string, string>;
}> = ({ team, form, report, labels }) => {
  const q = new URLSearchParams({ from: form.from, to: form.to });
  return (
    <>
      <h1>Usage</h1>
      <p class="lead">
        Tokens consumed (charges net of short-launch refunds) and charged sessions, over a range of days (UTC, both days included).
      </p>
      <form method="get" action={teamPath(team.id, '/usage')} class="panel filters">
        <label class="field">
          <span>From</span>
          <input type="date" name="from" value={form.from} required />
        </label>
        <label class="field">
          <span>To</span>
          <input type="date" name="to" value={form.to} required />
        </label>
        <label class="field">
          <span>By</span>
          <select name="by">
            {(['user', 'product', 'day'] as const).map((b) => (
              <option value={b} selected={form.by === b}>
                {BY_LABEL[b].replace(' (UTC)', '').toLowerCase()}
              </option>
            ))}
          </select>
        </label>
        <div class="filter-buttons">
          <button type="submit" class="btn primary">
            Show
          </button>
          <a class="btn" href={`${teamPath(team.id, '/usage.csv')}?${q.toString()}`} download>
            Download CSV
          </a>
        </div>
      </form>
      {report ? (
        <TableWrap label="Usage report">
          <table class="usage">
            <thead>
              <tr>
                <th>{BY_LABEL[form.by]}</th>
                <th class="num">Tokens</th>
                <th class="num">Sessions</th>
              </tr>
            </thead>
            <tbody>
              {report.rows.length === 0 ? (
                <tr>
                  <td colspan={3} class="empty">
                    No tokens consumed in this range.
                  </td>
                </tr>
              ) : (
                report.rows.map((r) => (
                  <tr>
                    <td>
                      {form.by === 'user' ? (
                        <>
                          <a href={memberPath(team.id, r.key)}>{labels.get(r.key) || r.key}</a>
                          {labels.get(r.key) ? <div class="sub">{r.key}</div> : null}
                        </>
                      ) : form.by === 'product' ? (
                        (labels.get(r.key) ?? r.key)
                      ) : (
                        day(r.key)
                      )}
                    </td>
                    <td class="num">{num(r.tokens)}</td>
                    <td class="num">{num(r.sessions)}</td>
                  </tr>
                ))
              )}
            </tbody>
            <tfoot>
              <tr>
                <th>Total</th>
                <td class="num">{num(report.total.tokens)}</td>
                <td class="num">{num(report.total.sessions)}</td>
              </tr>
            </tfoot>
          </table>
        </TableWrap>
      ) : null}
      <p class="hint">The CSV has the columns of Flex's own export, one line per day, user and product, whatever "by" says.</p>
    </>
  );
};

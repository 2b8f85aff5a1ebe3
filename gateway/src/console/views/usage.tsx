import type { UsageResponse } from '@flexgate/shared';
import type { FC } from 'hono/jsx';
import { PRESET_LABEL, type ProductUsers, USAGE_PRESETS, type UsagePreset, type UserRank, userRankCursor } from '../../domain/usage-views';
import type { UserWeeksOf } from '../../services/usage';
import { UsageChart } from './chart';
import { day, num, shortDay, teamPath } from './format';
import { InTurns, Pager, Person, TableWrap } from './layout';
import { ProductBars, WeekStrip } from './usage-charts';

export interface UsageForm {
  from: string;
  to: string;
  by: 'user' | 'product' | 'day';
  /** The preset the range came from; null for a custom range. */
  preset: UsagePreset | null;
}

// Rows and week strips rendered a turn of the event loop at a time (`InTurns`): a strip is the
// size of a few dozen rows.
const ROWS_A_STEP = 250;
const STRIPS_A_STEP = 10;

/** Flex's preset ranges as links, the custom range being the form beside them. */
const Presets: FC<{ team: { id: string }; form: UsageForm }> = ({ team, form }) => (
  <nav class="subnav presets" aria-label="Range">
    {USAGE_PRESETS.map((p) => (
      <a
        href={`${teamPath(team.id, '/usage')}?${new URLSearchParams({ range: p, by: form.by })}`}
        class={form.preset === p ? 'active' : undefined}
        aria-current={form.preset === p ? 'true' : undefined}
      >
        {PRESET_LABEL[p]}
      </a>
    ))}
    <a href="#custom-range" class={form.preset === null ? 'active' : undefined} aria-current={form.preset === null ? 'true' : undefined}>
      Custom range
    </a>
  </nav>
);

/** Each product with the users who used it (Flex's "by product" view). */
const ProductUsersView: FC<{
  team: { id: string };
  views: { products: ProductUsers[] };
  labels: Map<string, string>;
  names: Map<string, string>;
  members: Set<string>;
}> = ({ team, views, labels, names, members }) => (
  <section>
    <h2>Users of each product</h2>
    {views.products.length === 0 ? <p class="hint">No product was used in this range.</p> : null}
    {views.products.length > 0 ? (
      <div class="panel chart-panel">
        <ProductBars
          rows={views.products.map((p) => ({ name: labels.get(p.product) ?? p.product, tokens: p.tokens }))}
          caption="Tokens by product"
        />
      </div>
    ) : null}
    {views.products.map((p) => (
      <details class="panel product-users" data-product={p.product}>
        <summary>
          <strong>{labels.get(p.product) ?? p.product}</strong>: {p.users.length} user{p.users.length === 1 ? '' : 's'}, {num(p.tokens)}{' '}
          tokens
        </summary>
        <TableWrap label={`Users of ${labels.get(p.product) ?? p.product}`}>
          <table class="users-of">
            <thead>
              <tr>
                <th>User</th>
                <th class="num">Tokens</th>
                <th class="num">Days used</th>
              </tr>
            </thead>
            <tbody>
              <InTurns
                items={p.users}
                step={ROWS_A_STEP}
                render={(u) => (
                  <tr>
                    <td>
                      <Person team={team.id} id={u.autodeskId} name={names.get(u.autodeskId)} member={members.has(u.autodeskId)} />
                    </td>
                    <td class="num">{num(u.tokens)}</td>
                    <td class="num">{num(u.days)}</td>
                  </tr>
                )}
              />
            </tbody>
          </table>
        </TableWrap>
      </details>
    ))}
  </section>
);

/** A page of each user's days used, week by week (Flex's per-user view); `first`: this is not the first page. */
const UserWeeksView: FC<{
  team: { id: string };
  form: UsageForm;
  views: UserWeeksOf & { first: boolean };
  names: Map<string, string>;
  members: Set<string>;
}> = ({ team, form, views, names, members }) => {
  /** This page's range and grouping, from `after` on: the preset kept as a preset, so the range still ends today. */
  const pageOf = (after?: UserRank) => {
    const q = new URLSearchParams(form.preset ? { range: form.preset, by: 'user' } : { from: form.from, to: form.to, by: 'user' });
    if (after) q.set('after', userRankCursor(after));
    return `${teamPath(team.id, '/usage')}?${q}`;
  };
  const shown = views.users.length;
  return (
    <section>
      <h2>Days used per week</h2>
      <p class="user-count">
        {num(views.total)} user{views.total === 1 ? '' : 's'} used a product in this range
        {shown > 0 && shown < views.total ? `: ${num(views.before + 1)}-${num(views.before + shown)} here, most days used first` : ''}.
      </p>
      <p class="hint">
        One bar per week (Monday to Sunday, UTC) from the week of {shortDay(views.weeks[0] ?? views.from)}: the taller, the more days of use
        that week (7 at most).
      </p>
      <TableWrap label="Days used per week">
        <table class="user-weeks">
          <thead>
            <tr>
              <th>User</th>
              <th class="num">Days used</th>
              <th class="num">Tokens</th>
              <th>Weeks</th>
            </tr>
          </thead>
          <tbody>
            {views.users.length === 0 ? (
              <tr>
                <td colspan={4} class="empty">
                  {views.total === 0 ? 'Nobody used a product in this range.' : 'Nobody more: the page before was the last.'}
                </td>
              </tr>
            ) : (
              <InTurns
                items={views.users}
                step={STRIPS_A_STEP}
                render={(u) => (
                  <tr data-user={u.autodeskId}>
                    <td>
                      <Person team={team.id} id={u.autodeskId} name={names.get(u.autodeskId)} member={members.has(u.autodeskId)} />
                    </td>
                    <td class="num">{num(u.daysUsed)}</td>
                    <td class="num">{num(u.tokens)}</td>
                    <td class="weeks-cell">
                      <WeekStrip weeks={views.weeks} perWeek={u.perWeek} who={names.get(u.autodeskId) || u.autodeskId} />
                    </td>
                  </tr>
                )}
              />
            )}
          </tbody>
        </table>
      </TableWrap>
      <Pager label="User pages" first={views.first ? pageOf() : null} next={views.next !== null ? pageOf(views.next) : null} />
    </section>
  );
};

const BY_LABEL = { user: 'User', product: 'Product', day: 'Day (UTC)' } as const;

export const UsageView: FC<{
  team: { id: string; name: string };
  form: UsageForm;
  report: UsageResponse | null;
  labels: Map<string, string>;
  /** The by-product view, or a page of the per-user view (`first`: not the first page); people's names for them. */
  products: { products: ProductUsers[] } | null;
  weeks: (UserWeeksOf & { first: boolean }) | null;
  names: Map<string, string>;
  /** Who of the people named is a member now: only they have a member page to link to. */
  members: Set<string>;
}> = ({ team, form, report, labels, products, weeks, names, members }) => {
  const q = new URLSearchParams({ from: form.from, to: form.to });
  return (
    <>
      <h1>Usage</h1>
      <p class="lead">
        Tokens consumed (charges net of short-launch refunds) and charged sessions, over a range of days (UTC, both days included).
      </p>
      <Presets team={team} form={form} />
      <form method="get" action={teamPath(team.id, '/usage')} class="panel filters" id="custom-range" aria-label="Custom range">
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
      {report && form.by === 'day' ? (
        <div class="panel chart-panel">
          <UsageChart days={everyDay(form, report)} />
        </div>
      ) : null}
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
                <InTurns
                  items={report.rows}
                  step={ROWS_A_STEP}
                  render={(r) => (
                    <tr>
                      <td>
                        {form.by === 'user' ? (
                          <Person team={team.id} id={r.key} name={labels.get(r.key)} member={members.has(r.key)} />
                        ) : form.by === 'product' ? (
                          (labels.get(r.key) ?? r.key)
                        ) : (
                          day(r.key)
                        )}
                      </td>
                      <td class="num">{num(r.tokens)}</td>
                      <td class="num">{num(r.sessions)}</td>
                    </tr>
                  )}
                />
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
      {products ? <ProductUsersView team={team} views={products} labels={labels} names={names} members={members} /> : null}
      {weeks ? <UserWeeksView team={team} form={form} views={weeks} names={names} members={members} /> : null}
      <p class="hint">The CSV has the columns of Flex's own export, one line per day, user and product, whatever "by" says.</p>
    </>
  );
};

/** One entry per day of the range, zero on days without use, for the day chart. */
function everyDay(form: UsageForm, report: UsageResponse): { day: string; tokens: number }[] {
  const tokensOn = new Map(report.rows.map((r) => [r.key, r.tokens]));
  const out: { day: string; tokens: number }[] = [];
  for (let t = Date.parse(report.from); t < Date.parse(report.to) && out.length < 1200; t += 86_400_000) {
    const d = new Date(t).toISOString().slice(0, 10);
    out.push({ day: d, tokens: tokensOn.get(d) ?? 0 });
  }
  return out.length > 0 ? out : [{ day: form.from, tokens: 0 }];
}

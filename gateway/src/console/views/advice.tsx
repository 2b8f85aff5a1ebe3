import type { AdviceResponse } from '@flexgate/shared';
import type { Child, FC } from 'hono/jsx';
import { formatMoney } from '../../domain/money';
import { day, num, teamPath } from './format';
import { Person, TableWrap } from './layout';

/** The Advice page: where a subscription would have been cheaper than Flex last year, and the other way round. */
export const AdviceView: FC<{
  team: { id: string; name: string };
  a: AdviceResponse;
  names: Map<string, string>;
  /** Who of them is a member now: only they have a member page to link to. */
  members: Set<string>;
  products: Map<string, string>;
}> = ({ team, a, names, members, products }) => {
  const money = (minor: number) => formatMoney(minor, a.currency);
  const who = (id: string) => <Person team={team.id} id={id} name={names.get(id)} member={members.has(id)} />;
  const lastDay = new Date(Date.parse(a.year.to) - 1).toISOString();
  return (
    <>
      <h1>Advice</h1>
      <p class="lead">
        Last year ({day(a.year.from)} to {day(lastDay)}): what each person's Flex use cost against a single-user subscription to the
        product.
      </p>
      {a.pricePerToken ? (
        <p class="hint" data-testid="price-basis">
          Tokens are valued at {money(a.pricePerToken.average)} each: the average price of the {num(a.pricePerToken.basisTokens)} priced
          tokens bought from {day(a.pricePerToken.boughtFrom)} up to the end of the year, the lots that could pay for it.
        </p>
      ) : (
        <p class="banner warn">No purchase of this team that could pay for last year has a price per token: there is nothing to compare.</p>
      )}
      <p>
        <a class="btn" href={teamPath(team.id, '/advice.csv')} download>
          Download CSV
        </a>
      </p>

      <section>
        <h2>A subscription would have been cheaper</h2>
        <SavingsTable
          label="Flex users for whom a subscription would have been cheaper"
          testId="advice-flex"
          columns={['Days', 'Tokens', 'Flex cost', 'Subscription per year']}
          empty="Nobody: Flex cost less than a subscription for everyone (or no product has a subscription price)."
          rows={a.flex.map((r) => ({
            user: who(r.autodeskId),
            product: products.get(r.product) ?? r.product,
            cells: [num(r.daysLastYear), num(r.tokensLastYear), money(r.costLastYear), money(r.subscriptionPricePerYear)],
            saving: money(r.saving),
          }))}
          total={money(a.total.flexSaving)}
        />
      </section>

      <section>
        <h2>Subscriptions barely used</h2>
        <p class="hint">
          Subscriptions of this team's members, by the days they were launched: those days through Flex would have cost less than the
          subscription did for the part of the year it covered.
        </p>
        <SavingsTable
          label="Subscriptions that Flex would have made cheaper"
          testId="advice-subscriptions"
          columns={['Days used', 'Days covered', 'Subscription cost', 'Through Flex']}
          empty="None."
          rows={a.subscriptions.map((r) => ({
            user: who(r.autodeskId),
            product: products.get(r.product) ?? r.product,
            cells: [num(r.daysUsed), num(r.daysCovered), money(r.subscriptionCost), money(r.flexCost)],
            saving: money(r.saving),
          }))}
          total={money(a.total.subscriptionSaving)}
        />
      </section>
    </>
  );
};

/** One of the page's two tables: a row per (user, product), four figures, the saving, and their total. */
const SavingsTable: FC<{
  label: string;
  testId: string;
  columns: [string, string, string, string];
  empty: string;
  rows: { user: Child; product: string; cells: string[]; saving: string }[];
  total: string;
}> = ({ label, testId, columns, empty, rows, total }) => (
  <TableWrap label={label}>
    <table data-testid={testId}>
      <thead>
        <tr>
          <th>User</th>
          <th>Product</th>
          {columns.map((c) => (
            <th class="num">{c}</th>
          ))}
          <th class="num">Saving</th>
        </tr>
      </thead>
      <tbody>
        {rows.length === 0 ? (
          <tr>
            <td colspan={7} class="empty">
              {empty}
            </td>
          </tr>
        ) : (
          rows.map((r) => (
            <tr>
              <td>{r.user}</td>
              <td>{r.product}</td>
              {r.cells.map((c) => (
                <td class="num">{c}</td>
              ))}
              <td class="num">{r.saving}</td>
            </tr>
          ))
        )}
      </tbody>
      <tfoot>
        <tr>
          <th colspan={6}>Total</th>
          <td class="num">{total}</td>
        </tr>
      </tfoot>
    </table>
  </TableWrap>
);

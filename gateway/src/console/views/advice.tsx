import type { AdviceResponse } from '@flexgate/shared';
import type { FC } from 'hono/jsx';
import { formatMoney } from '../../domain/money';
import { day, memberPath, num, teamPath } from './format';
import { TableWrap } from './layout';

/** The Advice page: where a subscription would have been cheaper than Flex last year, and the other way round. */
export const AdviceView: FC<{
  team: { id: string; name: string };
  a: AdviceResponse;
  names: Map<string, string>;
  products: Map<string, string>;
}> = ({ team, a, names, products }) => {
  const money = (minor: number) => formatMoney(minor, a.currency);
  const who = (id: string) => (
    <>
      <a href={memberPath(team.id, id)}>{names.get(id) || id}</a>
      {names.get(id) ? <div class="sub">{id}</div> : null}
    </>
  );
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
        <TableWrap label="Flex users for whom a subscription would have been cheaper">
          <table data-testid="advice-flex">
            <thead>
              <tr>
                <th>User</th>
                <th>Product</th>
                <th class="num">Days</th>
                <th class="num">Tokens</th>
                <th class="num">Flex cost</th>
                <th class="num">Subscription per year</th>
                <th class="num">Saving</th>
              </tr>
            </thead>
            <tbody>
              {a.flex.length === 0 ? (
                <tr>
                  <td colspan={7} class="empty">
                    Nobody: Flex cost less than a subscription for everyone (or no product has a subscription price).
                  </td>
                </tr>
              ) : (
                a.flex.map((r) => (
                  <tr>
                    <td>{who(r.autodeskId)}</td>
                    <td>{products.get(r.product) ?? r.product}</td>
                    <td class="num">{num(r.daysLastYear)}</td>
                    <td class="num">{num(r.tokensLastYear)}</td>
                    <td class="num">{money(r.costLastYear)}</td>
                    <td class="num">{money(r.subscriptionPricePerYear)}</td>
                    <td class="num">{money(r.saving)}</td>
                  </tr>
                ))
              )}
            </tbody>
            <tfoot>
              <tr>
                <th colspan={6}>Total</th>
                <td class="num">{money(a.total.flexSaving)}</td>
              </tr>
            </tfoot>
          </table>
        </TableWrap>
      </section>

      <section>
        <h2>Subscriptions barely used</h2>
        <p class="hint">
          Subscriptions of this team's members, by the days they were launched: those days through Flex would have cost less than the
          subscription did for the part of the year it covered.
        </p>
        <TableWrap label="Subscriptions that Flex would have made cheaper">
          <table data-testid="advice-subscriptions">
            <thead>
              <tr>
                <th>User</th>
                <th>Product</th>
                <th class="num">Days used</th>
                <th class="num">Days covered</th>
                <th class="num">Subscription cost</th>
                <th class="num">Through Flex</th>
                <th class="num">Saving</th>
              </tr>
            </thead>
            <tbody>
              {a.subscriptions.length === 0 ? (
                <tr>
                  <td colspan={7} class="empty">
                    None.
                  </td>
                </tr>
              ) : (
                a.subscriptions.map((r) => (
                  <tr>
                    <td>{who(r.autodeskId)}</td>
                    <td>{products.get(r.product) ?? r.product}</td>
                    <td class="num">{num(r.daysUsed)}</td>
                    <td class="num">{num(r.daysCovered)}</td>
                    <td class="num">{money(r.subscriptionCost)}</td>
                    <td class="num">{money(r.flexCost)}</td>
                    <td class="num">{money(r.saving)}</td>
                  </tr>
                ))
              )}
            </tbody>
            <tfoot>
              <tr>
                <th colspan={6}>Total</th>
                <td class="num">{money(a.total.subscriptionSaving)}</td>
              </tr>
            </tfoot>
          </table>
        </TableWrap>
      </section>
    </>
  );
};

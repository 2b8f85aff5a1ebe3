import type { ForecastResponse, Product } from '@flexgate/shared';
import type { FC } from 'hono/jsx';
import { formatMoney } from '../../domain/money';
import { ForecastChart } from './forecast-chart';
import { day, num, teamPath, tokenCount } from './format';
import { Badge, TableWrap } from './layout';

/** The window's `to` is excluded: the last day it covers is the one before. */
const lastDay = (to: string) => new Date(Date.parse(`${to}T00:00:00Z`) - 86_400_000).toISOString();

const BY_WORDS = {
  use: 'when the burn uses the last token',
  expiry: 'when the last tokens expire unused',
  empty: 'no tokens left now',
} as const;
/** The same, when tokens are left that pay no product's day (R6: a launch pays a whole day). */
const STRANDED_BY_WORDS = {
  use: 'when the burn leaves less than a day of any product',
  expiry: 'when expiring lots leave less than a day of any product',
  empty: 'less than a day of any product now',
} as const;

/**
 * The stranded tokens in words: how many, from when, and why no launch can spend them. Moving
 * them is offered only to an admin with another team to move them to (R3).
 */
const Stranded: FC<{ f: ForecastResponse; canMove: boolean }> = ({ f, canMove }) => {
  const left = tokenCount(f.stranded);
  const rate = `the cheapest product launched lately takes ${tokenCount(f.smallestRate ?? 0)} a day`;
  return (
    <p class="banner warn" data-testid="stranded">
      {f.runsOutBy === 'empty'
        ? `The ${left} left can pay no product's day (${rate}): they will expire unused. Buy tokens to launch again${canMove ? ', or move these to a team that can use them' : ''}.`
        : `From ${day(f.runsOutOn)}, the ${left} left can pay no product's day (${rate}): they will expire unused.`}
    </p>
  );
};

/**
 * The Spend page: the forecast at the recent burn, the lots with their price and what they will
 * lose, the catalog's prices. `canMove`: the admin manages another team, where tokens can move (R3).
 */
export const SpendView: FC<{ team: { id: string; name: string }; f: ForecastResponse; catalog: Product[]; canMove: boolean }> = ({
  team,
  f,
  catalog,
  canMove,
}) => {
  const money = (minor: number | null) => (minor === null ? '—' : formatMoney(minor, f.currency));
  return (
    <>
      <h1>Spend</h1>
      {f.window.days === 0 ? (
        // A team made today has no whole day behind it: "the last 0 whole days (15 Mar to 14 Mar)" says nothing.
        <p class="lead">
          The team was made today: its rate is 0 until its first whole day (UTC) has passed. Tokens are drawn from the lots that expire
          first.
        </p>
      ) : (
        <p class="lead">
          The balance at the current rate: tokens consumed (net of short-launch refunds) over the last {f.window.days} whole day
          {f.window.days === 1 ? '' : 's'} ({day(f.window.from)} to {day(lastDay(f.window.to))}, UTC), drawn from the lots that expire
          first.
        </p>
      )}
      <section class="cards" aria-label="Forecast">
        <div class="card">
          <div class="card-label">Balance</div>
          <div class="card-value">{num(f.balance)}</div>
          <div class="card-note">tokens available now</div>
        </div>
        <div class="card">
          <div class="card-label">Current rate</div>
          <div class="card-value" data-testid="daily-burn">
            {f.dailyBurn.toLocaleString('en-US')}
          </div>
          <div class="card-note">tokens a day</div>
        </div>
        <div class="card">
          <div class="card-label">Runs out on</div>
          <div class="card-value" data-testid="runs-out">
            {day(f.runsOutOn)}
          </div>
          <div class="card-note">{(f.stranded > 0 ? STRANDED_BY_WORDS : BY_WORDS)[f.runsOutBy]}</div>
        </div>
        <div class="card">
          <div class="card-label">Will expire unused</div>
          <div class="card-value" data-testid="at-risk">
            {num(f.atRisk)}
          </div>
          <div class="card-note">tokens{f.valueAtRisk !== null ? `, worth ${money(f.valueAtRisk)}` : ''}</div>
        </div>
      </section>
      {f.stranded > 0 ? <Stranded f={f} canMove={canMove} /> : null}
      {f.atRisk > f.stranded ? (
        <p class="banner warn" data-testid="expiring-unused">
          At the current rate {num(f.atRisk)} tokens will expire unused.{' '}
          {canMove ? (
            <>
              <a href={teamPath(team.id, '/tokens/move')}>Move them</a> to a team that needs them before they expire, or buy fewer next
              time.
            </>
          ) : (
            'Buy fewer next time.'
          )}
        </p>
      ) : null}

      <section>
        <h2>Projected balance, next 12 months</h2>
        <div class="panel chart-panel">
          <ForecastChart f={f} />
        </div>
        <p class="hint">Dashed lines: a lot expires (orange: with tokens left unused, how many above).</p>
      </section>

      <section>
        <h2>Lots</h2>
        <TableWrap label="Lots and their outlook">
          <table class="lots">
            <thead>
              <tr>
                <th>Lot</th>
                <th>Expires</th>
                <th class="num">Price per token</th>
                <th class="num">Remaining</th>
                <th class="num">Will be used</th>
                <th class="num">Will expire unused</th>
              </tr>
            </thead>
            <tbody>
              {f.lots.length === 0 ? (
                <tr>
                  <td colspan={6} class="empty">
                    No valid tokens.
                  </td>
                </tr>
              ) : (
                f.lots.map((l) => (
                  <tr data-lot={l.id}>
                    <td class="mono">{l.id}</td>
                    <td>{day(l.expiresAt)}</td>
                    <td class="num">{money(l.pricePerToken)}</td>
                    <td class="num">{num(l.remaining)}</td>
                    <td class="num">{num(l.used)}</td>
                    <td class="num">{l.atRisk > 0 ? <Badge kind="warn">{num(l.atRisk)}</Badge> : '0'}</td>
                  </tr>
                ))
              )}
            </tbody>
          </table>
        </TableWrap>
      </section>

      <section>
        <h2>Prices</h2>
        <p class="hint">
          Set by the operator (catalog) and with each purchase, in {f.currency}. <a href={teamPath(team.id, '/advice')}>Advice</a> compares
          Flex with subscriptions at these prices.
        </p>
        <TableWrap label="Catalog prices">
          <table>
            <thead>
              <tr>
                <th>Product</th>
                <th class="num">Tokens a day</th>
                <th class="num">Subscription per year</th>
              </tr>
            </thead>
            <tbody>
              {catalog.map((p) => (
                <tr data-product={p.key}>
                  <td>{p.name}</td>
                  <td class="num">{num(p.dailyRate)}</td>
                  <td class="num">{money(p.subscriptionPricePerYear)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      </section>
    </>
  );
};

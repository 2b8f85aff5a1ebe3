import type { AdviceResponse } from '@flexgate/shared';
import { listProducts } from '../db/repos/catalog';
import { memberSubscriptions, pricedLots, usageByPair } from '../db/repos/spend';
import { peopleNames } from '../db/repos/usage';
import { adviceYear, flexAdvice, type PriceFacts, paidPrice, subscriptionAdvice } from '../domain/advice';
import { csvLine, csvText } from '../domain/csv';
import { plainMoney } from '../domain/money';
import type { ServiceContext } from './context';
import { requireTeam } from './teams';

/**
 * `GET /v1/teams/:team/advice`: last year's Flex cost of each user and product against a
 * subscription's price, and subscriptions whose days of use would have cost less through Flex.
 */
export async function advice(ctx: ServiceContext, teamId: string): Promise<AdviceResponse> {
  await requireTeam(ctx, teamId);
  const now = ctx.clock.now();
  const year = adviceYear(now);
  // The lots that could pay for the year's use were bought from a year before it (R1) up to its end.
  const boughtFrom = new Date(Date.parse(year.from));
  boughtFrom.setUTCFullYear(boughtFrom.getUTCFullYear() - 1);
  const [usage, catalog, lots, subs] = await Promise.all([
    usageByPair(ctx.db, teamId, year.from.slice(0, 7), year.to.slice(0, 7)),
    listProducts(ctx.db),
    pricedLots(ctx.db, teamId, boughtFrom.toISOString(), year.to),
    memberSubscriptions(ctx.db, teamId, year.from, year.to),
  ]);
  const products = new Map<string, PriceFacts>(catalog.map((p) => [p.key, p]));
  const price = paidPrice(lots);
  const flex = flexAdvice(usage, products, price);
  const subscriptions = subscriptionAdvice(subs, products, price, year);
  return {
    team: teamId,
    at: now.toISOString(),
    currency: ctx.config.currency,
    year,
    pricePerToken: price
      ? {
          average: Math.round(price.amount / price.tokens),
          basisTokens: price.tokens,
          boughtFrom: boughtFrom.toISOString(),
          boughtTo: year.to,
        }
      : null,
    flex,
    subscriptions,
    total: {
      flexSaving: flex.reduce((s, a) => s + a.saving, 0),
      subscriptionSaving: subscriptions.reduce((s, a) => s + a.saving, 0),
    },
  };
}

export const ADVICE_CSV_COLUMNS = [
  'Email',
  'Name',
  'Product',
  'Advice',
  'Days used',
  'Tokens',
  'Flex cost',
  'Subscription price',
  'Saving',
  'Currency',
] as const;

/**
 * The advice as a CSV, the usage export's conventions (RFC 4180, CRLF, formula cells quoted):
 * one line per advice, amounts in major units without a symbol so that a spreadsheet sums them.
 * "subscribe": a Flex user whose year cost more than a subscription; "use Flex": a subscriber
 * whose days of use (Tokens: those days at the daily rate) would have cost less through Flex.
 */
export async function adviceCsv(ctx: ServiceContext, teamId: string): Promise<{ filename: string; csv: string }> {
  const a = await advice(ctx, teamId);
  const names = await peopleNames(ctx.db, teamId, [...new Set([...a.flex, ...a.subscriptions].map((x) => x.autodeskId))]);
  const money = (m: number) => plainMoney(m, a.currency);
  let csv = csvLine([...ADVICE_CSV_COLUMNS]);
  for (const f of a.flex) {
    csv += csvLine([
      csvText(f.autodeskId),
      csvText(names.get(f.autodeskId) ?? ''),
      csvText(f.product),
      'subscribe',
      String(f.daysLastYear),
      String(f.tokensLastYear),
      money(f.costLastYear),
      money(f.subscriptionPricePerYear),
      money(f.saving),
      a.currency,
    ]);
  }
  for (const s of a.subscriptions) {
    csv += csvLine([
      csvText(s.autodeskId),
      csvText(names.get(s.autodeskId) ?? ''),
      csvText(s.product),
      'use Flex',
      String(s.daysUsed),
      String(s.flexTokens),
      money(s.flexCost),
      money(s.subscriptionCost),
      money(s.saving),
      a.currency,
    ]);
  }
  const lastMonth = new Date(Date.parse(a.year.to) - 1).toISOString().slice(0, 7);
  return { filename: `flex-advice-${teamId}-${a.year.from.slice(0, 7)}-${lastMonth}.csv`, csv };
}

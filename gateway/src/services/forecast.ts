import type { ForecastResponse } from '@flexgate/shared';
import type { Kysely } from 'kysely';
import { chargeableLots } from '../db/repos/lots';
import { teamCreatedAt, useByProduct } from '../db/repos/spend';
import type { DB } from '../db/schema';
import { type Burn, burnWindow, dailyBurn, type Forecast, forecast, outlookSentence } from '../domain/forecast';
import type { ServiceContext } from './context';
import { requireTeam } from './teams';

/** A product the team burns on, with its daily rate now (R8). */
export interface BurnProduct {
  key: string;
  name: string;
  dailyRate: number;
}

/**
 * The team's burn over its window (domain/forecast.ts `burnWindow`) and the products it is spent
 * on, from one read of the daily rollup. The rate is the window's whole days only, but the
 * products are those with tokens spent in the window or today: a product first launched today is
 * what the team launches now, and a day of it is what the balance must still pay. A launch
 * refunded in full (R7a) spent nothing and names nothing.
 */
async function burnOf(
  db: Kysely<DB>,
  teamId: string,
  now: Date,
  charging: readonly BurnProduct[] = [],
): Promise<{ window: ReturnType<typeof burnWindow>; burn: Burn; products: BurnProduct[] }> {
  const window = burnWindow(now, (await teamCreatedAt(db, teamId)) ?? now.toISOString());
  const use = await useByProduct(db, teamId, window.from, window.to);
  const spent = use.filter((p) => p.tokens + p.today > 0);
  const products = [...spent, ...charging.filter((c) => c.dailyRate > 0 && !spent.some((p) => p.key === c.key))]
    .map(({ key, name, dailyRate }) => ({ key, name, dailyRate }))
    .sort((a, b) => a.dailyRate - b.dailyRate || (a.key < b.key ? -1 : 1));
  const tokens = use.reduce((s, p) => s + p.tokens, 0);
  return { window, products, burn: { tokens: Math.max(0, tokens), days: window.days, rates: products.map((p) => p.dailyRate) } };
}

/** The forecast of a team on `db` (a transaction too): its lots under its recent burn. */
export async function teamForecast(
  db: Kysely<DB>,
  teamId: string,
  now: Date,
): Promise<{ f: Forecast; burn: Burn; window: ReturnType<typeof burnWindow> }> {
  const [{ window, burn }, lots] = await Promise.all([burnOf(db, teamId, now), chargeableLots(db, teamId, now.toISOString())]);
  return { f: forecast(lots, burn, now), burn, window };
}

/**
 * What the R19 e-mails say of what comes, from the forecast of the lots the alert was decided on
 * (a group of charges hands them over as its charge left them, before its writes; lots expiring
 * together lose the same in all whichever is drawn first, so the sentence, which sums by day,
 * needs no more of R2's order than their expiry):
 * - `outlook`: its sentence, or null when there are no tokens to forecast;
 * - `outOfReach`: the products it burns on (its input) whose daily rate is more than the balance:
 *   a launch of any of them is refused now;
 * - `stranded`: the forecast runs out now with tokens left: less than a day of every one of them.
 * `charging`: the products of charges not yet in the ledger (a group's), launched today.
 */
export async function alertOutlook(
  db: Kysely<DB>,
  teamId: string,
  now: Date,
  lots: readonly { id: string; remaining: number; expiresAt: string }[],
  charging: readonly BurnProduct[] = [],
): Promise<{ outlook: string | null; outOfReach: BurnProduct[]; stranded: boolean }> {
  const { burn, products } = await burnOf(db, teamId, now, charging);
  const f = forecast(
    lots.map((l) => ({ ...l, tokens: l.remaining, purchasedAt: l.expiresAt, pricePerToken: null })),
    burn,
    now,
  );
  return {
    outlook: outlookSentence(f, burn),
    outOfReach: products.filter((p) => p.dailyRate > f.balance),
    stranded: f.runsOutBy === 'empty' && f.stranded > 0,
  };
}

/** `GET /v1/teams/:team/forecast`: when the balance runs out and what expires unused at the recent burn (R2). */
export async function forecastReport(ctx: ServiceContext, teamId: string): Promise<ForecastResponse> {
  // Expired lots are left out by the read itself: no expiry entries need writing first.
  await requireTeam(ctx, teamId);
  const now = ctx.clock.now();
  const { f, burn, window } = await teamForecast(ctx.db, teamId, now);
  return {
    team: teamId,
    at: now.toISOString(),
    currency: ctx.config.currency,
    balance: f.balance,
    window: { ...window, tokens: burn.tokens },
    dailyBurn: dailyBurn(burn),
    runsOutOn: f.runsOutAt.slice(0, 10),
    runsOutAt: f.runsOutAt,
    runsOutBy: f.runsOutBy,
    smallestRate: f.smallestRate,
    stranded: f.stranded,
    lots: f.lots,
    atRisk: f.atRisk,
    valueAtRisk: f.valueAtRisk,
    projection: f.projection.map((p) => ({ day: p.at.slice(0, 10), balance: p.balance })),
  };
}

import type { ForecastResponse } from '@flexgate/shared';
import type { Kysely } from 'kysely';
import { chargeableLots } from '../db/repos/lots';
import { productsLaunchedOverDays, teamCreatedAt, useByProduct } from '../db/repos/spend';
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
): Promise<{ window: ReturnType<typeof burnWindow>; burn: Burn; products: BurnProduct[] }> {
  const window = burnWindow(now, (await teamCreatedAt(db, teamId)) ?? now.toISOString());
  const use = await useByProduct(db, teamId, window.from, window.to);
  const spent = use.filter((p) => p.tokens + p.today > 0);
  const products = spent.map(({ key, name, dailyRate }) => ({ key, name, dailyRate }));
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
 * The R19 e-mails' outlook sentence, or null when there are no tokens to forecast. The lots are
 * the alert's own facts: a group of charges hands them over as its charge left them, before its
 * writes. Lots expiring together lose the same in all whichever is drawn first, so the sentence,
 * which sums by day, needs no more of R2's order than their expiry.
 */
export async function outlookOf(
  db: Kysely<DB>,
  teamId: string,
  now: Date,
  lots: readonly { id: string; remaining: number; expiresAt: string }[],
): Promise<string | null> {
  const { burn } = await burnOf(db, teamId, now);
  const f = forecast(
    lots.map((l) => ({ ...l, tokens: l.remaining, purchasedAt: l.expiresAt, pricePerToken: null })),
    burn,
    now,
  );
  return outlookSentence(f, burn);
}

/**
 * The products the team launched lately (its burn window: the whole days before today, as the
 * forecast's burn) whose daily rate is more than `balance`: a launch of any of them is refused
 * now, whatever the forecast says of the tokens left.
 */
export async function productsOutOfReach(
  db: Kysely<DB>,
  teamId: string,
  now: Date,
  balance: number,
): Promise<{ outOfReach: { name: string; dailyRate: number }[]; launched: number }> {
  const window = burnWindow(now, (await teamCreatedAt(db, teamId)) ?? now.toISOString());
  const launched = await productsLaunchedOverDays(db, teamId, window.from, window.to);
  return {
    outOfReach: launched.filter((p) => p.dailyRate > balance).map(({ name, dailyRate }) => ({ name, dailyRate })),
    launched: launched.length,
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

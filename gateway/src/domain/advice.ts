import { mulDivRound } from './money';
import { DAY_MS } from './time';

/**
 * Right-sizing: Flex against single-user subscriptions, over "last year": the 12 whole UTC months
 * before the current one (the monthly rollup's grain; a month that has not ended yet is left out).
 */
export function adviceYear(now: Date): { from: string; to: string } {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const to = new Date(Date.UTC(y, m, 1));
  const from = new Date(Date.UTC(y - 1, m, 1));
  return { from: from.toISOString(), to: to.toISOString() };
}

/**
 * The price a token was paid, as the exact fraction Σ(price × tokens) / Σtokens over the priced lots
 * bought from a year before `from` up to `to`: the lots that could pay for that year's use (R1).
 * Lots without a price are left out; no priced lot, no price.
 */
export interface PaidPrice {
  /** Σ price × tokens, minor units. */
  amount: number;
  tokens: number;
}

export function paidPrice(lots: readonly { tokens: number; pricePerToken: number | null }[]): PaidPrice | null {
  let amount = 0;
  let tokens = 0;
  for (const l of lots) {
    if (l.pricePerToken === null) continue;
    amount += l.pricePerToken * l.tokens;
    tokens += l.tokens;
  }
  return tokens === 0 ? null : { amount, tokens };
}

/** What `tokens` cost at the price paid, in minor units, rounded half up once. */
export const costOf = (tokens: number, price: PaidPrice): number => mulDivRound(tokens, price.amount, price.tokens);

export interface PriceFacts {
  dailyRate: number;
  subscriptionPricePerYear: number | null;
}

export interface FlexAdvice {
  autodeskId: string;
  product: string;
  tokensLastYear: number;
  /** Charged sessions (days of use) in the year. */
  daysLastYear: number;
  costLastYear: number;
  subscriptionPricePerYear: number;
  /** costLastYear - subscriptionPricePerYear: what a subscription would have saved. */
  saving: number;
}

/** Flex users whose year cost more than a subscription to the product would have: largest saving first. */
export function flexAdvice(
  usage: readonly { autodeskId: string; product: string; tokens: number; sessions: number }[],
  products: ReadonlyMap<string, PriceFacts>,
  price: PaidPrice | null,
): FlexAdvice[] {
  if (price === null) return [];
  const out: FlexAdvice[] = [];
  for (const u of usage) {
    const sub = products.get(u.product)?.subscriptionPricePerYear ?? null;
    if (sub === null || u.tokens <= 0) continue;
    const cost = costOf(u.tokens, price);
    if (cost > sub) {
      out.push({
        autodeskId: u.autodeskId,
        product: u.product,
        tokensLastYear: u.tokens,
        daysLastYear: u.sessions,
        costLastYear: cost,
        subscriptionPricePerYear: sub,
        saving: cost - sub,
      });
    }
  }
  return out.sort(bySaving);
}

export interface SubscriptionUse {
  licenseId: string;
  autodeskId: string;
  product: string;
  startsAt: string;
  endsAt: string;
  /** UTC days within the year on which the subscription was launched. */
  daysUsed: number;
}

export interface SubscriptionAdvice {
  autodeskId: string;
  product: string;
  licenseId: string;
  /** Days of the year the subscription covered, and its price for them (the yearly price pro rata). */
  daysCovered: number;
  subscriptionCost: number;
  daysUsed: number;
  /** Those days through Flex: daysUsed × the product's daily rate, at the price paid per token. */
  flexTokens: number;
  flexCost: number;
  /** subscriptionCost - flexCost: what Flex would have saved. */
  saving: number;
}

/**
 * Subscribers who barely used theirs: the days they launched it, paid through Flex, would have cost
 * less than the subscription did over the part of the year it covered.
 */
export function subscriptionAdvice(
  subs: readonly SubscriptionUse[],
  products: ReadonlyMap<string, PriceFacts>,
  price: PaidPrice | null,
  year: { from: string; to: string },
): SubscriptionAdvice[] {
  if (price === null) return [];
  const yearDays = Math.round((Date.parse(year.to) - Date.parse(year.from)) / DAY_MS);
  const out: SubscriptionAdvice[] = [];
  for (const s of subs) {
    const p = products.get(s.product);
    if (!p || p.subscriptionPricePerYear === null) continue;
    const from = Math.max(Date.parse(s.startsAt), Date.parse(year.from));
    const to = Math.min(Date.parse(s.endsAt), Date.parse(year.to));
    const daysCovered = Math.ceil((to - from) / DAY_MS);
    if (daysCovered <= 0) continue;
    const subscriptionCost = mulDivRound(p.subscriptionPricePerYear, Math.min(daysCovered, yearDays), yearDays);
    const flexTokens = s.daysUsed * p.dailyRate;
    const flexCost = costOf(flexTokens, price);
    if (flexCost < subscriptionCost) {
      out.push({
        autodeskId: s.autodeskId,
        product: s.product,
        licenseId: s.licenseId,
        daysCovered,
        subscriptionCost,
        daysUsed: s.daysUsed,
        flexTokens,
        flexCost,
        saving: subscriptionCost - flexCost,
      });
    }
  }
  return out.sort(bySaving);
}

function bySaving(a: { saving: number; autodeskId: string; product: string }, b: { saving: number; autodeskId: string; product: string }) {
  return b.saving - a.saving || (a.autodeskId < b.autodeskId ? -1 : a.autodeskId > b.autodeskId ? 1 : a.product < b.product ? -1 : 1);
}

import { drawOrder, type LotState } from './lots';
import { mulDivRound } from './money';
import { addMs, DAY_MS } from './time';

/** The burn is measured over the last 28 whole UTC days: four whole weeks, so weekends weigh as they do in any month. */
export const BURN_WINDOW_DAYS = 28;
/** The projection's length: no lot lives longer than a year (R1). */
export const PROJECTION_DAYS = 365;

/** Tokens consumed (charges net of refunds, R15) over `days` whole days. */
export interface Burn {
  tokens: number;
  days: number;
}

export interface ForecastLot extends LotState {
  pricePerToken: number | null;
}

export interface LotOutlook {
  id: string;
  remaining: number;
  expiresAt: string;
  pricePerToken: number | null;
  /** Tokens of the lot the burn will use before it expires. */
  used: number;
  /** Tokens that will expire unused at this burn. */
  atRisk: number;
}

export interface Forecast {
  balance: number;
  /** When the balance reaches 0: by use (the day whose burn takes the last token) or by the last lot's expiry; `now` when it is 0. */
  runsOutAt: string;
  runsOutBy: 'use' | 'expiry' | 'empty';
  /** Valid lots with tokens, in R2's draw order. */
  lots: LotOutlook[];
  atRisk: number;
  /** atRisk valued at each lot's price, over the lots that have one; null when none at risk has. */
  valueAtRisk: number | null;
  /** The balance at the start of each of the coming days, today first: PROJECTION_DAYS + 1 points. */
  projection: { at: string; balance: number }[];
}

/**
 * Tokens the burn draws in the first `n` days from now. Day k (k = 0, 1, ...) begins at now + k
 * days and draws its share at its start, as a launch pays its day up front (R6); the shares are
 * spread in integers so that n days draw floor(tokens × n / days), never a fraction of a token.
 */
export function drawnBy(burn: Burn, n: number): number {
  if (burn.days <= 0 || burn.tokens <= 0 || n <= 0) return 0;
  return Math.floor((burn.tokens * n) / burn.days);
}

/** The days that begin before `at`: those whose share a lot expiring at `at` can still pay (valid just before its expiry, R2). */
function daysBefore(at: string, now: Date): number {
  const ms = Date.parse(at) - now.getTime();
  return ms <= 0 ? 0 : Math.ceil(ms / DAY_MS);
}

/**
 * R2 under a steady burn: the lots are drawn in their order, expiring first, so a lot serves the
 * burn from the moment the lots before it are used up or gone until it is empty or expires. Since
 * the draw order is the expiry order, lot i can be drawn for at most what the burn asks before its
 * expiry less what the lots before it gave; whatever it holds beyond that expires unused (atRisk).
 */
export function forecast(lots: readonly ForecastLot[], burn: Burn, now: Date): Forecast {
  const ordered = drawOrder(lots, now);
  const outlook: (LotOutlook & { from: number })[] = [];
  let given = 0;
  for (const lot of ordered) {
    const reachable = drawnBy(burn, daysBefore(lot.expiresAt, now));
    const used = Math.max(0, Math.min(lot.remaining, reachable - given));
    outlook.push({
      id: lot.id,
      remaining: lot.remaining,
      expiresAt: lot.expiresAt,
      pricePerToken: lot.pricePerToken,
      used,
      atRisk: lot.remaining - used,
      from: given,
    });
    given += used;
  }
  const balance = ordered.reduce((s, l) => s + l.remaining, 0);
  const last = outlook.at(-1);
  let runsOutAt = now.toISOString();
  let runsOutBy: Forecast['runsOutBy'] = 'empty';
  if (last && last.atRisk > 0) {
    runsOutAt = last.expiresAt;
    runsOutBy = 'expiry';
  } else if (last) {
    // The first day whose share takes the cumulative burn to every token given: floor(t n / d) >= given.
    const n = Math.ceil((given * burn.days) / burn.tokens);
    runsOutAt = addMs(now, (n - 1) * DAY_MS).toISOString();
    runsOutBy = 'use';
  }
  const priced = outlook.filter((l) => l.atRisk > 0 && l.pricePerToken !== null);
  const projection = Array.from({ length: PROJECTION_DAYS + 1 }, (_, k) => {
    const at = addMs(now, k * DAY_MS);
    const atIso = at.toISOString();
    const burnt = drawnBy(burn, k);
    let left = 0;
    for (const l of outlook) {
      if (l.expiresAt <= atIso) continue;
      left += l.remaining - Math.min(l.used, Math.max(0, burnt - l.from));
    }
    return { at: atIso, balance: left };
  });
  return {
    balance,
    runsOutAt,
    runsOutBy,
    lots: outlook.map(({ from: _, ...l }) => l),
    atRisk: outlook.reduce((s, l) => s + l.atRisk, 0),
    valueAtRisk: priced.length === 0 ? null : priced.reduce((s, l) => s + mulDivRound(l.atRisk, l.pricePerToken ?? 0, 1), 0),
    projection,
  };
}

/** The burn window ending at today's UTC midnight: the last 28 whole days, or fewer for a team created since. */
export function burnWindow(now: Date, teamCreatedAt: string): { from: string; to: string; days: number } {
  const to = new Date(`${now.toISOString().slice(0, 10)}T00:00:00.000Z`);
  const created = new Date(`${teamCreatedAt.slice(0, 10)}T00:00:00.000Z`);
  const earliest = addMs(to, -BURN_WINDOW_DAYS * DAY_MS);
  const from = created > earliest ? created : earliest;
  const days = Math.max(0, Math.round((to.getTime() - from.getTime()) / DAY_MS));
  return { from: from.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10), days };
}

/** The burn a day, to a tenth of a token, as reports and e-mails show it. */
export const dailyBurn = (burn: Burn): number => (burn.days > 0 ? Math.round((burn.tokens * 10) / burn.days) / 10 : 0);

/**
 * The R19 e-mails' outlook, one sentence, or null when there is nothing to forecast (no tokens):
 * "At the current rate (12.5 tokens a day), the balance runs out on 2027-02-03; 340 tokens will
 * expire unused on 2026-09-01."
 */
export function outlookSentence(f: Forecast, burn: Burn): string | null {
  if (f.balance === 0) return null;
  const perDay = dailyBurn(burn);
  const rate = perDay === 0 ? 'no tokens used lately' : `${tokens(perDay)} a day`;
  const head = `At the current rate (${rate}), the balance runs out on ${f.runsOutAt.slice(0, 10)}`;
  const lost = new Map<string, number>();
  for (const l of f.lots) if (l.atRisk > 0) lost.set(l.expiresAt.slice(0, 10), (lost.get(l.expiresAt.slice(0, 10)) ?? 0) + l.atRisk);
  if (lost.size === 0) return `${head}.`;
  const parts = [...lost.entries()].map(([day, n], i) => (i === 0 ? `${tokens(n)} will expire unused on ${day}` : `${n} on ${day}`));
  return `${head}; ${parts.join(', ')}.`;
}

const tokens = (n: number): string => `${n} ${n === 1 ? 'token' : 'tokens'}`;

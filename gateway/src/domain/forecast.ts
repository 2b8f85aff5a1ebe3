import { drawOrder, type LotState } from './lots';
import { mulDivRound } from './money';
import { addMs, DAY_MS } from './time';

/** The burn is measured over the last 28 whole UTC days: four whole weeks, so weekends weigh as they do in any month. */
export const BURN_WINDOW_DAYS = 28;
/** The projection's length: no lot lives longer than a year (R1). */
export const PROJECTION_DAYS = 365;

/**
 * Tokens consumed (charges net of refunds, R15) over `days` whole days, and the daily rates (R8,
 * as they are now) of the products the team spends them on: a launch pays a whole day of its
 * product up front (R6), so a balance under the smallest of them launches nothing.
 */
export interface Burn {
  tokens: number;
  days: number;
  /** Empty or absent: none known, and the balance is spent down to its last token. */
  rates?: readonly number[];
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
  /** Tokens that will expire unused at this burn (stranded ones included). */
  atRisk: number;
}

export interface Forecast {
  balance: number;
  /**
   * When the balance can no longer pay a day of any product the burn is spent on (below
   * `smallestRate`; 0 without one): by use (the day whose draw takes it below), by expiry (lots
   * expiring unused take it below), or `empty`: it is below already (`now`).
   */
  runsOutAt: string;
  runsOutBy: 'use' | 'expiry' | 'empty';
  /** The smallest daily rate among the burn's products (the fewest tokens a launch takes); null when none is known. */
  smallestRate: number | null;
  /** Tokens left, below `smallestRate`, once the balance runs out: no launch can spend them, so they expire unused (in `atRisk`). */
  stranded: number;
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

/** The fewest tokens a launch of the burn's products takes: the smallest positive rate, null when none is given. */
export function smallestRate(burn: Burn): number | null {
  const rates = (burn.rates ?? []).filter((r) => r > 0);
  return rates.length === 0 ? null : Math.min(...rates);
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
 *
 * R6: a launch pays its product's whole daily rate, so a day draws its share only while the
 * balance at its start is at least the smallest rate of the burn's products. The balance only
 * falls (no purchase is foreseen), so from the first day it is below, nothing more is drawn: what
 * is left then is stranded and expires unused with its lots. Without a known rate the line is 1
 * token, and the balance is drawn to 0.
 */
export function forecast(lots: readonly ForecastLot[], burn: Burn, now: Date): Forecast {
  const ordered = drawOrder(lots, now);
  const reach: { lot: ForecastLot; ends: number; used: number; from: number }[] = [];
  let given = 0;
  for (const lot of ordered) {
    const reachable = drawnBy(burn, daysBefore(lot.expiresAt, now));
    const used = Math.max(0, Math.min(lot.remaining, reachable - given));
    reach.push({ lot, ends: Date.parse(lot.expiresAt), used, from: given });
    given += used;
  }
  // What a lot holds once `drawn` tokens of the burn have been drawn; `leftAt`: all the lots still valid after `atMs`.
  const held = (l: (typeof reach)[number], drawn: number) => l.lot.remaining - Math.min(l.used, Math.max(0, drawn - l.from));
  const leftAt = (atMs: number, drawn: number) => reach.reduce((s, l) => (l.ends > atMs ? s + held(l, drawn) : s), 0);
  const dayStart = (k: number) => now.getTime() + k * DAY_MS;

  const rate = smallestRate(burn);
  const floor = rate ?? 1;
  // The first day whose balance at its start is below the floor, by halves: that balance only falls
  // with the days, and it is 0 on the first day to start once every lot has expired.
  let [stop, last] = [0, reach.reduce((d, l) => Math.max(d, daysBefore(l.lot.expiresAt, now)), 0)];
  while (stop < last) {
    const mid = Math.floor((stop + last) / 2);
    if (leftAt(dayStart(mid), drawnBy(burn, mid)) < floor) last = mid;
    else stop = mid + 1;
  }
  const cap = drawnBy(burn, stop);

  const balance = ordered.reduce((s, l) => s + l.remaining, 0);
  let runsOutAt = now.toISOString();
  let runsOutBy: Forecast['runsOutBy'] = 'empty';
  let stranded = balance;
  if (stop > 0) {
    // Between the start of the last day that drew and the next: its draw, or an expiry after it, took the balance below.
    const drew = dayStart(stop - 1);
    stranded = leftAt(drew, cap);
    if (stranded < floor) {
      runsOutAt = new Date(drew).toISOString();
      runsOutBy = 'use';
    } else {
      // In expiry order; the lots expiring with the one that takes it below go with it (their tokens expire, they are not left).
      let below: number | null = null;
      for (const l of reach) {
        if (l.ends <= drew || (below !== null && l.ends > below)) continue;
        stranded -= held(l, cap);
        if (below === null && stranded < floor) {
          below = l.ends;
          runsOutAt = l.lot.expiresAt;
          runsOutBy = 'expiry';
        }
      }
    }
  }

  const outlook: LotOutlook[] = reach.map((l) => {
    const used = l.lot.remaining - held(l, cap);
    return {
      id: l.lot.id,
      remaining: l.lot.remaining,
      expiresAt: l.lot.expiresAt,
      pricePerToken: l.lot.pricePerToken,
      used,
      atRisk: l.lot.remaining - used,
    };
  });
  const priced = outlook.filter((l) => l.atRisk > 0 && l.pricePerToken !== null);
  const projection = Array.from({ length: PROJECTION_DAYS + 1 }, (_, k) => ({
    at: addMs(now, k * DAY_MS).toISOString(),
    balance: leftAt(dayStart(k), Math.min(cap, drawnBy(burn, k))),
  }));
  return {
    balance,
    runsOutAt,
    runsOutBy,
    smallestRate: rate,
    stranded,
    lots: outlook,
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
 * expire unused on 2026-09-01.", with "(5 tokens left then, less than a day of any product used lately)" after
 * the day when the balance runs out stranded.
 */
export function outlookSentence(f: Forecast, burn: Burn): string | null {
  if (f.balance === 0) return null;
  const perDay = dailyBurn(burn);
  const rate = perDay === 0 ? 'no tokens used lately' : `${tokens(perDay)} a day`;
  const left = f.stranded > 0 ? ` (${tokens(f.stranded)} left then, less than a day of any product used lately)` : '';
  const head = `At the current rate (${rate}), the balance runs out on ${f.runsOutAt.slice(0, 10)}${left}`;
  const lost = new Map<string, number>();
  for (const l of f.lots) if (l.atRisk > 0) lost.set(l.expiresAt.slice(0, 10), (lost.get(l.expiresAt.slice(0, 10)) ?? 0) + l.atRisk);
  if (lost.size === 0) return `${head}.`;
  const parts = [...lost.entries()].map(([day, n], i) => (i === 0 ? `${tokens(n)} will expire unused on ${day}` : `${n} on ${day}`));
  return `${head}; ${parts.join(', ')}.`;
}

const tokens = (n: number): string => `${n} ${n === 1 ? 'token' : 'tokens'}`;

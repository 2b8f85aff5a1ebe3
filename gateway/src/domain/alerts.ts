import { addMs, DAY_MS } from './time';

/** R19: a team is low when its balance is below 20% of the still-valid tokens it bought. */
export const LOW_BALANCE_RATIO = 0.2;
/** R19: tokens expiring within 90 days are announced, once per lot. */
export const EXPIRY_WARNING_MS = 90 * DAY_MS;

export interface AlertLot {
  id: string;
  remaining: number;
  expiresAt: string;
}

export interface AlertFacts {
  balance: number;
  /** Tokens of the valid lots, less what was transferred out of them: what the team still bought. */
  validBought: number;
  /** Unexpired lots that still hold tokens. */
  lots: readonly AlertLot[];
}

export interface AlertState {
  lowBalance: boolean;
  lowBalanceThreshold: number;
  expiring: AlertLot[];
  expiringTokens: number;
  nextExpiry: string | null;
}

export function alertState(f: AlertFacts, now: Date): AlertState {
  // Whole tokens: "below 20%" of 1000 means 199 or fewer.
  const threshold = f.validBought * LOW_BALANCE_RATIO;
  const horizon = addMs(now, EXPIRY_WARNING_MS).toISOString();
  const nowIso = now.toISOString();
  const expiring = f.lots
    .filter((l) => l.remaining > 0 && l.expiresAt > nowIso && l.expiresAt <= horizon)
    .sort((a, b) => (a.expiresAt < b.expiresAt ? -1 : a.expiresAt > b.expiresAt ? 1 : 0));
  return {
    lowBalance: f.validBought > 0 && f.balance < threshold,
    lowBalanceThreshold: Math.ceil(threshold),
    expiring,
    expiringTokens: expiring.reduce((s, l) => s + l.remaining, 0),
    nextExpiry: expiring[0]?.expiresAt ?? null,
  };
}

/**
 * Whether charges spending up to `spend` tokens from these lots could cross an R19 line at all,
 * whatever was moved out or announced before: a balance that stays at or above 20% of everything
 * bought cannot be low (moving tokens out only lowers the line), and no lot expiring within 90
 * days means nothing to announce. False spares the reads that an exact answer needs.
 */
export function mayCrossAlert(
  lots: readonly { tokens: number; remaining: number; expiresAt: string }[],
  spend: number,
  now: Date,
): boolean {
  const nowIso = now.toISOString();
  const horizon = addMs(now, EXPIRY_WARNING_MS).toISOString();
  const valid = lots.filter((l) => l.expiresAt > nowIso);
  const bought = valid.reduce((s, l) => s + l.tokens, 0);
  const balance = valid.reduce((s, l) => s + l.remaining, 0);
  return balance - spend < bought * LOW_BALANCE_RATIO || valid.some((l) => l.remaining > 0 && l.expiresAt <= horizon);
}

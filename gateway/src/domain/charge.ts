import { alertState } from './alerts';
import { type Allocation, isExpired, type LotState, planDraw } from './lots';

/**
 * The charge of a Flex launch (R4, R6-R8, R19), decided from plain data: every engine and every
 * group of charges decides through here, and only reads and writes around it.
 */

/** What one launch's charge is decided from, as the charge's transaction sees it. */
export interface ChargeFacts {
  /** The session of (user, product) still open at the launch's instant, if any (R7). */
  open: { id: string } | undefined;
  /** The product as the catalog has it now (R8: its rate applies to sessions opened now). */
  product: { name: string; dailyRate: number } | undefined;
  /** The team's lots that can pay or must expire first: the valid ones and the expired ones still holding tokens. */
  lots: readonly LotState[];
  /** Tokens transferred out of the team's still-valid lots (negative): they leave R19's basis. */
  movedOut: number;
  /** R19 crossings already recorded: the open low-balance crossing, and the lots already announced. */
  alerted: { lowBalance: boolean; expiringLots: ReadonlySet<string> };
}

export type ChargeDecision =
  | { kind: 'found'; sessionId: string }
  | { kind: 'unknown-product' }
  | { kind: 'insufficient'; available: number; productName: string; rate: number }
  /** Lots of the team expired with tokens left: they leave the balance (a ledger entry each) before anything is drawn. */
  | { kind: 'expire-first'; lotIds: string[] }
  | {
      kind: 'open';
      rate: number;
      productName: string;
      allocations: Allocation[];
      /** The team's valid balance once this charge is drawn. */
      balanceAfter: number;
      /** This charge may cross an R19 line not yet recorded: the caller records it (once) and e-mails. */
      crossesAlert: boolean;
    };

/** Decides one charge at `now` (the instant the session would open). */
export function decideCharge(f: ChargeFacts, now: Date): ChargeDecision {
  // R7: an open session answers every further launch, charging nothing.
  if (f.open) return { kind: 'found', sessionId: f.open.id };
  if (!f.product) return { kind: 'unknown-product' };
  const stale = f.lots.filter((l) => l.remaining > 0 && isExpired(l, now));
  if (stale.length > 0) return { kind: 'expire-first', lotIds: stale.map((l) => l.id) };
  const rate = f.product.dailyRate; // R8: the rate in force when the session opens
  const plan = planDraw(f.lots, rate, now);
  if (!plan.ok) return { kind: 'insufficient', available: plan.available, productName: f.product.name, rate };
  const drawn = new Map(plan.allocations.map((a) => [a.lotId, a.tokens]));
  const after = f.lots
    .filter((l) => !isExpired(l, now))
    .map((l) => ({ id: l.id, tokens: l.tokens, remaining: l.remaining - (drawn.get(l.id) ?? 0), expiresAt: l.expiresAt }));
  const bought = after.reduce((s, l) => s + l.tokens, 0);
  const balanceAfter = after.reduce((s, l) => s + l.remaining, 0);
  // R19 on the lots as this charge leaves them, against what was already announced.
  const state = alertState({ balance: balanceAfter, validBought: bought + f.movedOut, lots: after }, now);
  const crossesAlert = (state.lowBalance && !f.alerted.lowBalance) || state.expiring.some((l) => !f.alerted.expiringLots.has(l.id));
  return { kind: 'open', rate, productName: f.product.name, allocations: plan.allocations, balanceAfter, crossesAlert };
}

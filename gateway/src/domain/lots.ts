import { addOneYear } from './time';

/** The part of a lot the charge rules need. Instants are ISO strings, comparable as text. */
export interface LotState {
  id: string;
  tokens: number;
  remaining: number;
  /** When the tokens were bought (a transferred part keeps its source lot's instant, R3). */
  purchasedAt: string;
  expiresAt: string;
}

export interface Allocation {
  lotId: string;
  tokens: number;
}

/** R1: a lot is valid for one calendar year from its purchase instant. */
export function lotExpiry(purchasedAt: Date): Date {
  return addOneYear(purchasedAt);
}

/** R2: a lot whose expiry has come no longer counts (valid "just before" its expiry instant). */
export function isExpired(lot: Pick<LotState, 'expiresAt'>, now: Date): boolean {
  return instantMs(lot.expiresAt) <= now.getTime();
}

/**
 * An instant's milliseconds, each text parsed once: a charge compares its team's few lots a dozen
 * times, and the same lots at every charge. Bounded: cleared past 10,000 texts.
 */
const parsed = new Map<string, number>();
function instantMs(iso: string): number {
  let ms = parsed.get(iso);
  if (ms === undefined) {
    ms = Date.parse(iso);
    if (parsed.size >= 10_000) parsed.clear();
    parsed.set(iso, ms);
  }
  return ms;
}

/**
 * R2: unexpired lots in the order they are drawn: expiring first; on a tie the smaller lot (the
 * tokens it was created with); then the one bought first; then the lower id in code-unit order
 * (byte order for the ASCII ids the gateway makes), never a locale's collation.
 */
export function drawOrder<L extends LotState>(lots: readonly L[], now: Date): L[] {
  return lots.filter((l) => l.remaining > 0 && !isExpired(l, now)).sort(drawsBefore);
}

/** R2's total order on lots, as a comparator: negative when `a` is drawn before `b`. */
export function drawsBefore(a: LotState, b: LotState): number {
  return (
    instantMs(a.expiresAt) - instantMs(b.expiresAt) ||
    a.tokens - b.tokens ||
    instantMs(a.purchasedAt) - instantMs(b.purchasedAt) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

export function balanceOf(lots: readonly LotState[], now: Date): number {
  return lots.reduce((sum, l) => (isExpired(l, now) ? sum : sum + l.remaining), 0);
}

export type ChargePlan = { ok: true; allocations: Allocation[] } | { ok: false; available: number };

/**
 * R2 + R4: which lots pay `amount`, oldest-expiring first, possibly across several lots; or,
 * when the unexpired balance is short, nothing at all (never a partial charge, never negative).
 */
export function planDraw(lots: readonly LotState[], amount: number, now: Date): ChargePlan {
  if (!Number.isSafeInteger(amount) || amount <= 0) throw new RangeError(`amount must be a positive integer: ${amount}`);
  const ordered = drawOrder(lots, now);
  const available = ordered.reduce((s, l) => s + l.remaining, 0);
  if (available < amount) return { ok: false, available };
  const allocations: Allocation[] = [];
  let left = amount;
  for (const lot of ordered) {
    if (left === 0) break;
    const take = Math.min(lot.remaining, left);
    allocations.push({ lotId: lot.id, tokens: take });
    left -= take;
  }
  return { ok: true, allocations };
}

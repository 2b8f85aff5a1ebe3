import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { balanceOf, drawOrder, isExpired, type LotState, lotExpiry, planDraw } from './lots';

/**
 * R1, R2, R4, R5 as properties of the pure rules: random lots, random charges, a random clock.
 * The model applies each plan to the lots the way the repositories do (remaining -= tokens).
 */
const T0 = Date.parse('2026-01-01T00:00:00Z');
const DAY = 86_400_000;

const lotArb = fc.record({
  tokens: fc.integer({ min: 1, max: 500 }),
  used: fc.integer({ min: 0, max: 100 }),
  purchasedDay: fc.integer({ min: -400, max: 30 }),
  purchasedMinute: fc.integer({ min: 0, max: 1439 }),
});

const lotsArb = fc.array(lotArb, { maxLength: 12 }).map((specs) =>
  specs.map((s, i): LotState => {
    const purchased = new Date(T0 + s.purchasedDay * DAY + s.purchasedMinute * 60_000);
    return {
      id: `lot${String(i).padStart(2, '0')}`,
      tokens: s.tokens,
      remaining: Math.max(0, s.tokens - s.used),
      purchasedAt: purchased.toISOString(),
      expiresAt: lotExpiry(purchased).toISOString(),
    };
  }),
);

const stepArb = fc.oneof(
  fc.record({ kind: fc.constant('charge' as const), amount: fc.integer({ min: 1, max: 60 }) }),
  fc.record({ kind: fc.constant('clock' as const), minutes: fc.integer({ min: 1, max: 60 * 24 * 90 }) }),
);

function apply(lots: LotState[], allocations: { lotId: string; tokens: number }[]): LotState[] {
  return lots.map((l) => {
    const take = allocations.filter((a) => a.lotId === l.id).reduce((s, a) => s + a.tokens, 0);
    return take ? { ...l, remaining: l.remaining - take } : l;
  });
}

describe('lots: properties over random histories (R1, R2, R4, R5)', () => {
  it('a plan pays exactly the amount or nothing, never overdraws, never touches an expired lot, drains oldest-expiring first', () => {
    fc.assert(
      fc.property(lotsArb, fc.integer({ min: 1, max: 400 }), fc.integer({ min: -30, max: 400 }), (lots, amount, day) => {
        const now = new Date(T0 + day * DAY);
        const available = balanceOf(lots, now);
        const plan = planDraw(lots, amount, now);
        if (!plan.ok) {
          // R4: refused only when short, and then nothing is charged.
          expect(available).toBeLessThan(amount);
          expect(plan.available).toBe(available);
          return;
        }
        expect(available).toBeGreaterThanOrEqual(amount);
        expect(plan.allocations.reduce((s, a) => s + a.tokens, 0)).toBe(amount);
        const byId = new Map(lots.map((l) => [l.id, l]));
        const order = drawOrder(lots, now).map((l) => l.id);
        plan.allocations.forEach((a, i) => {
          const lot = byId.get(a.lotId);
          expect(lot).toBeDefined();
          if (!lot) return;
          expect(a.tokens).toBeGreaterThan(0);
          expect(a.tokens).toBeLessThanOrEqual(lot.remaining);
          expect(isExpired(lot, now)).toBe(false);
          // R2: the allocations are a prefix of the draw order, and every lot but the last is emptied.
          expect(order[i]).toBe(a.lotId);
          if (i < plan.allocations.length - 1) expect(a.tokens).toBe(lot.remaining);
        });
        // R2: nothing drawn from a lot while a lot expiring earlier still holds tokens afterwards.
        const after = apply(lots, plan.allocations);
        const drawn = new Set(plan.allocations.map((a) => a.lotId));
        for (const d of drawn) {
          const dl = byId.get(d);
          if (!dl) continue;
          for (const other of after) {
            if (other.id === d || isExpired(other, now) || other.remaining === 0) continue;
            expect(Date.parse(other.expiresAt) >= Date.parse(dl.expiresAt) || drawn.has(other.id)).toBe(true);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('over a random sequence of charges and clock moves: never negative, sum conserved, balance = unexpired remainders', () => {
    fc.assert(
      fc.property(lotsArb, fc.array(stepArb, { maxLength: 40 }), (initial, steps) => {
        let lots = initial;
        let now = new Date(T0);
        const bought = initial.reduce((s, l) => s + l.remaining, 0);
        let charged = 0;
        let expired = 0;
        const expiredIds = new Set<string>();
        for (const step of steps) {
          if (step.kind === 'clock') {
            now = new Date(now.getTime() + step.minutes * 60_000);
          } else {
            const before = balanceOf(lots, now);
            const plan = planDraw(lots, step.amount, now);
            if (plan.ok) {
              lots = apply(lots, plan.allocations);
              charged += step.amount;
              expect(balanceOf(lots, now)).toBe(before - step.amount);
            } else {
              expect(balanceOf(lots, now)).toBe(before);
            }
          }
          // Expiry as the ledger would write it: once per lot, what it still held.
          for (const l of lots) {
            if (isExpired(l, now) && !expiredIds.has(l.id)) {
              expiredIds.add(l.id);
              expired += l.remaining;
            }
          }
          for (const l of lots) expect(l.remaining).toBeGreaterThanOrEqual(0);
          // R5: what was bought = what was charged + what expired + what is left to use.
          expect(bought).toBe(charged + expired + balanceOf(lots, now));
        }
      }),
      { numRuns: 300 },
    );
  });
});

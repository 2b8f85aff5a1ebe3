import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Burn, drawnBy, type Forecast, type ForecastLot, forecast, PROJECTION_DAYS } from './forecast';
import { drawOrder } from './lots';

/**
 * The forecast computes each lot's use directly; this model walks the days one by one instead:
 * each day's share drawn at its start in R2's order, but only while the balance then is at least
 * the smallest rate (R6), and each lot gone at its expiry. Both must agree on everything.
 */
const NOW = new Date('2026-06-01T00:00:00.000Z');
const DAY = 86_400_000;
const HOUR = 3_600_000;

function walk(lots: readonly ForecastLot[], burn: Burn, now: Date) {
  const rates = (burn.rates ?? []).filter((r) => r > 0);
  const floor = rates.length === 0 ? 1 : Math.min(...rates);
  const live = drawOrder(lots, now).map((l) => ({ id: l.id, ends: Date.parse(l.expiresAt), left: l.remaining, used: 0 }));
  const held = (at: number) => live.reduce((s, l) => (l.ends > at ? s + l.left : s), 0);
  let out: { at: number; by: Forecast['runsOutBy']; stranded: number } | null =
    held(now.getTime()) < floor ? { at: now.getTime(), by: 'empty', stranded: held(now.getTime()) } : null;
  const projection: number[] = [];
  for (let k = 0; k <= PROJECTION_DAYS || out === null; k++) {
    const start = now.getTime() + k * DAY;
    if (k <= PROJECTION_DAYS) projection.push(held(start));
    if (out !== null) continue;
    let share = drawnBy(burn, k + 1) - drawnBy(burn, k);
    for (const l of live) {
      if (l.ends <= start || share === 0) continue;
      const take = Math.min(l.left, share);
      l.left -= take;
      l.used += take;
      share -= take;
    }
    if (held(start) < floor) {
      out = { at: start, by: 'use', stranded: held(start) };
      continue;
    }
    // The expiries before the next day's start, one instant at a time.
    const next = start + DAY;
    for (const at of [...new Set(live.map((l) => l.ends))].filter((e) => e > start && e <= next).sort((a, b) => a - b)) {
      if (held(at) < floor) {
        out = { at, by: 'expiry', stranded: held(at) };
        break;
      }
    }
  }
  return { out, projection, used: live.map((l) => [l.id, l.used, l.left]) };
}

const lotsArb = fc
  .array(
    fc.record({
      remaining: fc.integer({ min: 0, max: 120 }),
      // Whole days often, so that lots expire together and at a day's start; hours otherwise.
      expiresIn: fc.oneof(
        fc.integer({ min: -2, max: 370 }).map((d) => d * DAY),
        fc.integer({ min: -24, max: 370 * 24 }).map((h) => h * HOUR),
      ),
      price: fc.option(fc.integer({ min: 1, max: 500 })),
    }),
    { maxLength: 6 },
  )
  .map((specs) =>
    specs.map(
      (s, i): ForecastLot => ({
        id: `lot${i}`,
        tokens: s.remaining + i,
        remaining: s.remaining,
        purchasedAt: '2026-01-01T00:00:00.000Z',
        expiresAt: new Date(NOW.getTime() + s.expiresIn).toISOString(),
        pricePerToken: s.price,
      }),
    ),
  );

const burnArb = fc.record({
  tokens: fc.integer({ min: 0, max: 400 }),
  days: fc.integer({ min: 0, max: 28 }),
  rates: fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 3 }),
});

describe('forecast: properties over random lots, burns and rates (R2, R6)', () => {
  it('agrees with a day-by-day walk: each lot’s use, when and how it runs out, what is stranded, the projection', () => {
    fc.assert(
      fc.property(lotsArb, burnArb, (lots, burn) => {
        const f = forecast(lots, burn, NOW);
        const w = walk(lots, burn, NOW);
        expect(f.lots.map((l) => [l.id, l.used, l.atRisk])).toEqual(w.used);
        expect([Date.parse(f.runsOutAt), f.runsOutBy, f.stranded]).toEqual([w.out?.at, w.out?.by, w.out?.stranded]);
        expect(f.projection.map((p) => p.balance)).toEqual(w.projection);
      }),
      { numRuns: 400 },
    );
  });

  it('stranded tokens are fewer than the smallest rate and expire unused; a lower line never strands more or runs out sooner', () => {
    const rateArb = fc.integer({ min: 1, max: 40 });
    fc.assert(
      fc.property(lotsArb, burnArb, rateArb, rateArb, (lots, burn, a, b) => {
        const f = forecast(lots, burn, NOW);
        expect(f.stranded).toBeGreaterThanOrEqual(0);
        expect(f.stranded).toBeLessThan(f.smallestRate ?? 1);
        expect(f.atRisk).toBeGreaterThanOrEqual(f.stranded);
        for (const l of f.lots) expect(l.used + l.atRisk).toBe(l.remaining);
        // Only the smallest rate counts: a dearer product burnt too changes nothing.
        if (f.smallestRate !== null) expect(forecast(lots, { ...burn, rates: [...burn.rates, f.smallestRate + a] }, NOW)).toEqual(f);
        const [lo, hi] = [
          forecast(lots, { ...burn, rates: [Math.min(a, b)] }, NOW),
          forecast(lots, { ...burn, rates: [Math.max(a, b)] }, NOW),
        ];
        expect(lo.atRisk).toBeLessThanOrEqual(hi.atRisk);
        expect(Date.parse(lo.runsOutAt)).toBeGreaterThanOrEqual(Date.parse(hi.runsOutAt));
      }),
      { numRuns: 400 },
    );
  });
});

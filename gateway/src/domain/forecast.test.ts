import { describe, expect, it } from 'vitest';
import { burnWindow, drawnBy, type ForecastLot, forecast, outlookSentence } from './forecast';

const now = new Date('2026-06-01T00:00:00.000Z');
const inDays = (d: number) => new Date(now.getTime() + d * 86_400_000).toISOString();
const lot = (id: string, remaining: number, expiresInDays: number, extra: Partial<ForecastLot> = {}): ForecastLot => ({
  id,
  tokens: remaining,
  remaining,
  purchasedAt: '2026-01-01T00:00:00.000Z',
  expiresAt: inDays(expiresInDays),
  pricePerToken: null,
  ...extra,
});
const tenADay = { tokens: 280, days: 28 };

describe('forecast (R2 under a steady burn)', () => {
  it('spreads a burn in whole tokens: n days draw floor(tokens × n / days)', () => {
    const slow = { tokens: 10, days: 28 };
    expect([0, 1, 3, 14, 28, 56].map((n) => drawnBy(slow, n))).toEqual([0, 0, 1, 5, 10, 20]);
    expect(drawnBy({ tokens: 0, days: 28 }, 100)).toBe(0);
    expect(drawnBy({ tokens: 50, days: 0 }, 100)).toBe(0);
    // A team one day old forecasts from its one day; a burn of a single token is still a burn.
    expect(drawnBy({ tokens: 5, days: 1 }, 2)).toBe(10);
    expect([27, 28, 56].map((n) => drawnBy({ tokens: 1, days: 28 }, n))).toEqual([0, 1, 2]);
  });

  it('runs out on the day whose draw takes the last token, when the burn does not divide evenly', () => {
    // 10 tokens in 28 days: 8 days draw floor(80 / 28) = 2, 9 days draw 3; the 9th day (day 8) takes the last.
    const f = forecast([lot('a', 3, 300)], { tokens: 10, days: 28 }, now);
    expect(f).toMatchObject({ runsOutBy: 'use', runsOutAt: inDays(8), atRisk: 0 });
    expect(f.projection.slice(7, 10).map((p) => p.balance)).toEqual([1, 1, 0]);
  });

  it('values what is at risk only: a priced lot the burn uses up has no value at risk; a single token has', () => {
    expect(forecast([lot('a', 100, 300, { pricePerToken: 40 })], tenADay, now).valueAtRisk).toBeNull();
    // 10 days draw 100 of 101: one token, at 40, is lost; the other 600 last 60 days.
    const one = forecast([lot('a', 101, 10, { pricePerToken: 40 }), lot('b', 500, 300)], tenADay, now);
    expect([one.atRisk, one.valueAtRisk]).toEqual([1, 40]);
    expect(outlookSentence(one, tenADay)).toBe(
      'At the current rate (10 tokens a day), the balance runs out on 2026-07-30; 1 token will expire unused on 2026-06-11.',
    );
  });

  it('R2: the lot expiring first is drawn first; what it holds beyond its reach expires unused', () => {
    const f = forecast([lot('c', 1000, 300), lot('a', 300, 10, { pricePerToken: 40 }), lot('b', 100, 20)], tenADay, now);
    expect(f.lots.map((l) => [l.id, l.used, l.atRisk])).toEqual([
      ['a', 100, 200],
      ['b', 100, 0],
      ['c', 1000, 0],
    ]);
    expect(f.atRisk).toBe(200);
    expect(f.valueAtRisk).toBe(8000);
    expect(f.balance).toBe(1400);
    // 1,200 tokens are used at 10 a day: the 120th day's draw (day 119 from today) takes the last one.
    expect(f.runsOutBy).toBe('use');
    expect(f.runsOutAt).toBe(inDays(119));
  });

  it('the projection starts at the balance and drops with the burn and with each expiry', () => {
    const f = forecast([lot('a', 300, 10), lot('b', 100, 20), lot('c', 1000, 300)], tenADay, now);
    expect(f.projection).toHaveLength(366);
    expect(f.projection[0]).toEqual({ at: now.toISOString(), balance: 1400 });
    expect(f.projection[1]?.balance).toBe(1390);
    // Day 10: lot a (300) expired after giving 100: 200 lost with it.
    expect(f.projection[10]?.balance).toBe(1400 - 100 - 200);
    expect(f.projection[119]?.balance).toBe(10);
    expect(f.projection[120]?.balance).toBe(0);
    expect(f.projection[365]?.balance).toBe(0);
  });

  it('R2 ties on expiry: the smaller lot is drawn first, and the other loses all it holds', () => {
    const f = forecast([lot('x', 50, 3), lot('y', 40, 3)], tenADay, now);
    expect(f.lots.map((l) => [l.id, l.used, l.atRisk])).toEqual([
      ['y', 30, 10],
      ['x', 0, 50],
    ]);
    expect(f.runsOutBy).toBe('expiry');
    expect(f.runsOutAt).toBe(inDays(3));
  });

  it('without any burn every token expires unused and the balance runs out at the last expiry', () => {
    const f = forecast([lot('a', 70, 40), lot('b', 30, 200)], { tokens: 0, days: 28 }, now);
    expect(f.atRisk).toBe(100);
    expect(f.runsOutBy).toBe('expiry');
    expect(f.runsOutAt).toBe(inDays(200));
    expect(f.valueAtRisk).toBeNull();
  });

  it('a team without tokens has run out already; expired or empty lots are left out', () => {
    const f = forecast([lot('gone', 90, -1), lot('empty', 0, 30)], tenADay, now);
    expect(f).toMatchObject({ balance: 0, runsOutBy: 'empty', runsOutAt: now.toISOString(), atRisk: 0, lots: [] });
  });

  it('says it in a sentence for the R19 e-mails', () => {
    const f = forecast([lot('a', 300, 10), lot('b', 100, 20), lot('c', 1000, 300)], tenADay, now);
    expect(outlookSentence(f, tenADay)).toBe(
      'At the current rate (10 tokens a day), the balance runs out on 2026-09-28; 200 tokens will expire unused on 2026-06-11.',
    );
    const lasting = forecast([lot('c', 1000, 300)], tenADay, now);
    expect(outlookSentence(lasting, tenADay)).toBe('At the current rate (10 tokens a day), the balance runs out on 2026-09-08.');
    expect(outlookSentence(forecast([], tenADay, now), tenADay)).toBeNull();
  });

  it("adds up the lots expiring on one day, and gives the rate to a tenth from the window's days", () => {
    const noon = (d: number) => new Date(now.getTime() + d * 86_400_000 + 43_200_000).toISOString();
    const slow = { tokens: 2, days: 3 };
    // Day 5 ends a's reach at 3 tokens drawn (27 lost) and b's, at noon, at 4 (19 lost): one figure for the day.
    const f = forecast([lot('a', 30, 5), lot('b', 20, 5, { expiresAt: noon(5) }), lot('c', 40, 400)], slow, now);
    expect(outlookSentence(f, slow)).toBe(
      'At the current rate (0.7 tokens a day), the balance runs out on 2026-08-05; 46 tokens will expire unused on 2026-06-06.',
    );
    const firstDay = { tokens: 5, days: 1 };
    expect(outlookSentence(forecast([lot('c', 40, 400)], firstDay, now), firstDay)).toBe(
      'At the current rate (5 tokens a day), the balance runs out on 2026-06-08.',
    );
  });
});

describe('burnWindow', () => {
  it('is the last 28 whole UTC days, or fewer for a team created since', () => {
    const at = new Date('2026-06-15T13:00:00Z');
    expect(burnWindow(at, '2025-01-01T00:00:00Z')).toEqual({ from: '2026-05-18', to: '2026-06-15', days: 28 });
    expect(burnWindow(at, '2026-06-10T22:00:00Z')).toEqual({ from: '2026-06-10', to: '2026-06-15', days: 5 });
    expect(burnWindow(at, '2026-06-15T08:00:00Z')).toEqual({ from: '2026-06-15', to: '2026-06-15', days: 0 });
  });
});

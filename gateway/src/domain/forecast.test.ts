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
});

describe('burnWindow', () => {
  it('is the last 28 whole UTC days, or fewer for a team created since', () => {
    const at = new Date('2026-06-15T13:00:00Z');
    expect(burnWindow(at, '2025-01-01T00:00:00Z')).toEqual({ from: '2026-05-18', to: '2026-06-15', days: 28 });
    expect(burnWindow(at, '2026-06-10T22:00:00Z')).toEqual({ from: '2026-06-10', to: '2026-06-15', days: 5 });
    expect(burnWindow(at, '2026-06-15T08:00:00Z')).toEqual({ from: '2026-06-15', to: '2026-06-15', days: 0 });
  });
});

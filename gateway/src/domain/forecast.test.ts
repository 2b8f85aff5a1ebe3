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

describe('forecast: a launch pays a whole day (R6), so a balance under the smallest rate is stranded', () => {
  const sevenADay = { tokens: 49, days: 7, rates: [7] };

  it('stops drawing on the day the balance falls below the rate: what is left expires unused, at its price', () => {
    // 51 tokens at 7 a day: seven days take 49, the 7th (day 6) leaves 2, which launch nothing.
    const f = forecast([lot('a', 51, 300, { pricePerToken: 50 })], sevenADay, now);
    expect(f).toMatchObject({ runsOutBy: 'use', runsOutAt: inDays(6), smallestRate: 7, stranded: 2, atRisk: 2, valueAtRisk: 100 });
    expect(f.lots.map((l) => [l.used, l.atRisk])).toEqual([[49, 2]]);
    expect(f.projection.slice(5, 9).map((p) => p.balance)).toEqual([16, 9, 2, 2]);
    // The 2 stay until their lot expires.
    expect(f.projection[299]?.balance).toBe(2);
    expect(f.projection[300]?.balance).toBe(0);
    expect(outlookSentence(f, sevenADay)).toBe(
      'At the current rate (7 tokens a day), the balance runs out on 2026-06-07 (2 tokens left then, less than a day of any product used lately); 2 tokens will expire unused on 2027-03-28.',
    );
    // Token by token, as without the rates, the 2 would go on the 8th day and nothing would be lost.
    const byToken = forecast([lot('a', 51, 300, { pricePerToken: 50 })], { tokens: 49, days: 7 }, now);
    expect(byToken).toMatchObject({ runsOutBy: 'use', runsOutAt: inDays(7), smallestRate: null, stranded: 0, atRisk: 0 });
  });

  it('the line is the smallest rate of the products burnt: with 7 and 3, a balance of 5 still pays a day', () => {
    // 10 tokens in 2 days (a day of 7, a day of 3): 5 a day. From 8: day 0 leaves 3, which still pays a day of 3.
    const mixed = { tokens: 10, days: 2, rates: [7, 3] };
    expect(forecast([lot('a', 8, 300)], mixed, now)).toMatchObject({
      runsOutBy: 'use',
      runsOutAt: inDays(1),
      smallestRate: 3,
      stranded: 0,
    });
    expect(forecast([lot('a', 5, 300)], mixed, now)).toMatchObject({ runsOutBy: 'use', runsOutAt: inDays(0), stranded: 0, atRisk: 0 });
    // Burning on the 7-a-day product alone, the same 8 strand 3 after today's draw, and 5 are stranded already.
    expect(forecast([lot('a', 8, 300)], { ...mixed, rates: [7] }, now)).toMatchObject({ runsOutAt: inDays(0), stranded: 3, atRisk: 3 });
    // Rates of 0 (a free product) spend nothing: they set no line.
    expect(forecast([lot('a', 8, 300)], { ...mixed, rates: [0, 3] }, now).smallestRate).toBe(3);
  });

  it('a balance below the rate now has run out now: every token is stranded, over all its lots', () => {
    const f = forecast([lot('b', 2, 200), lot('a', 4, 40, { pricePerToken: 30 })], sevenADay, now);
    expect(f).toMatchObject({ balance: 6, runsOutBy: 'empty', runsOutAt: now.toISOString(), stranded: 6, atRisk: 6, valueAtRisk: 120 });
    expect(f.lots.map((l) => [l.id, l.used, l.atRisk])).toEqual([
      ['a', 0, 4],
      ['b', 0, 2],
    ]);
    expect([f.projection[0]?.balance, f.projection[40]?.balance, f.projection[200]?.balance]).toEqual([6, 2, 0]);
  });

  it('an expiry can take the balance below the rate: it runs out then, and lots expiring with it are lost, not stranded', () => {
    // 1 a day from a (100, expiring in 10 days): 10 used, 90 lost. Then b's 5 pay no day of 7.
    const slow = { tokens: 28, days: 28, rates: [7] };
    const f = forecast([lot('a', 100, 10), lot('b', 5, 300)], slow, now);
    expect(f).toMatchObject({ runsOutBy: 'expiry', runsOutAt: inDays(10), stranded: 5, atRisk: 95 });
    // Two lots expiring together go together: the first alone would leave 55, still enough.
    const tie = forecast([lot('a1', 50, 10), lot('a2', 50, 10), lot('b', 5, 300)], slow, now);
    expect(tie).toMatchObject({ runsOutBy: 'expiry', runsOutAt: inDays(10), stranded: 5, atRisk: 95 });
    // Without use, the products' rate still sets the line: the tokens stop paying a day on day 10, not 300.
    const idle = forecast([lot('a', 100, 10), lot('b', 5, 300)], { tokens: 0, days: 28, rates: [7] }, now);
    expect(idle).toMatchObject({ runsOutBy: 'expiry', runsOutAt: inDays(10), stranded: 5, atRisk: 105 });
  });

  it('without a rate, or with one the balance never falls under before its lots expire, nothing changes', () => {
    const lots = [lot('a', 300, 10), lot('b', 100, 20), lot('c', 1000, 300)];
    const plain = forecast(lots, tenADay, now);
    expect(forecast(lots, { ...tenADay, rates: [] }, now)).toEqual(plain);
    // 1,200 drawn at 10 a day from a multiple of 10: the last day leaves 0, under any rate.
    expect(forecast(lots, { ...tenADay, rates: [10] }, now)).toEqual({ ...plain, smallestRate: 10 });
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

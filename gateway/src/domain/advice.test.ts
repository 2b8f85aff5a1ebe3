import { describe, expect, it } from 'vitest';
import { adviceYear, costOf, flexAdvice, type PriceFacts, paidPrice, subscriptionAdvice } from './advice';
import { formatMoney, mulDivRound, plainMoney } from './money';

const price = paidPrice([
  { tokens: 1000, pricePerToken: 50 },
  { tokens: 3000, pricePerToken: 40 },
  { tokens: 500, pricePerToken: null },
]);
const products = new Map<string, PriceFacts>([
  ['revit', { dailyRate: 10, subscriptionPricePerYear: 300_000 }],
  ['maya', { dailyRate: 9, subscriptionPricePerYear: 100_000 }],
  ['autocad', { dailyRate: 7, subscriptionPricePerYear: null }],
]);

describe('right-sizing advice', () => {
  it('last year is the 12 whole UTC months before the current one', () => {
    expect(adviceYear(new Date('2026-12-15T10:00:00Z'))).toEqual({ from: '2025-12-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' });
    expect(adviceYear(new Date('2026-01-01T00:00:00Z'))).toEqual({ from: '2025-01-01T00:00:00.000Z', to: '2026-01-01T00:00:00.000Z' });
  });

  it('values tokens at the price paid, weighted by the tokens of each priced lot, rounding half up once', () => {
    expect(price).toEqual({ amount: 170_000, tokens: 4000 });
    if (!price) throw new Error('priced');
    expect(costOf(100, price)).toBe(4250);
    expect(costOf(1, price)).toBe(43); // 42.5
    expect(paidPrice([{ tokens: 10, pricePerToken: null }])).toBeNull();
  });

  it('lists Flex users whose year cost more than a subscription, largest saving first', () => {
    const rows = flexAdvice(
      [
        { autodeskId: 'bob@x.com', product: 'revit', tokens: 1000, sessions: 100 },
        { autodeskId: 'ann@x.com', product: 'revit', tokens: 10_000, sessions: 1000 },
        { autodeskId: 'ann@x.com', product: 'autocad', tokens: 9_999, sessions: 10 },
        { autodeskId: 'cid@x.com', product: 'maya', tokens: 2_400, sessions: 240 },
      ],
      products,
      price,
    );
    expect(rows).toEqual([
      {
        autodeskId: 'ann@x.com',
        product: 'revit',
        tokensLastYear: 10_000,
        daysLastYear: 1000,
        costLastYear: 425_000,
        subscriptionPricePerYear: 300_000,
        saving: 125_000,
      },
      {
        autodeskId: 'cid@x.com',
        product: 'maya',
        tokensLastYear: 2_400,
        daysLastYear: 240,
        costLastYear: 102_000,
        subscriptionPricePerYear: 100_000,
        saving: 2_000,
      },
    ]);
    expect(flexAdvice([{ autodeskId: 'ann@x.com', product: 'revit', tokens: 10_000, sessions: 1 }], products, null)).toEqual([]);
  });

  it('lists subscriptions whose days of use would have cost less through Flex, the price pro rata of the days covered', () => {
    const year = { from: '2025-12-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' };
    const base = { startsAt: '2025-01-01T00:00:00.000Z', endsAt: '2027-01-01T00:00:00.000Z' };
    const rows = subscriptionAdvice(
      [
        { ...base, licenseId: 'l1', autodeskId: 'carl@x.com', product: 'revit', daysUsed: 12 },
        {
          licenseId: 'l2',
          autodeskId: 'dana@x.com',
          product: 'revit',
          daysUsed: 150,
          startsAt: '2026-06-01T00:00:00.000Z',
          endsAt: base.endsAt,
        },
        { ...base, licenseId: 'l3', autodeskId: 'erin@x.com', product: 'maya', daysUsed: 300 },
        { ...base, licenseId: 'l4', autodeskId: 'finn@x.com', product: 'autocad', daysUsed: 1 },
      ],
      products,
      price,
      year,
    );
    expect(rows.map((r) => [r.autodeskId, r.daysCovered, r.subscriptionCost, r.flexTokens, r.flexCost, r.saving])).toEqual([
      ['carl@x.com', 365, 300_000, 120, 5_100, 294_900],
      // 183 days of 365: 300,000 × 183 / 365 = 150,410.96 → 150,411.
      ['dana@x.com', 183, 150_411, 1_500, 63_750, 86_661],
    ]);
  });
});

describe('right-sizing advice at its edges', () => {
  const year = { from: '2025-12-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' };
  // One token at the price paid: 170,000 / 4,000 = 42.5 minor units.
  const even = new Map<string, PriceFacts>([
    ['revit', { dailyRate: 10, subscriptionPricePerYear: 85_000 }],
    ['maya', { dailyRate: 10, subscriptionPricePerYear: 85_000 }],
  ]);

  it('advises nothing where the two would have cost the same: there is no saving to show', () => {
    // 2,000 tokens cost 85,000: the subscription's price.
    expect(flexAdvice([{ autodeskId: 'ann@x.com', product: 'revit', tokens: 2000, sessions: 200 }], even, price)).toEqual([]);
    // 200 days at 10 tokens cost 85,000 too, against a whole year's subscription.
    const sub = { licenseId: 'l1', autodeskId: 'bob@x.com', product: 'revit', daysUsed: 200, startsAt: year.from, endsAt: year.to };
    expect(subscriptionAdvice([sub], even, price, year)).toEqual([]);
  });

  it('orders equal savings by Autodesk ID, then by product, whatever order the rows came in', () => {
    const usage = [
      { autodeskId: 'cid@x.com', product: 'revit', tokens: 3000, sessions: 300 },
      { autodeskId: 'ann@x.com', product: 'revit', tokens: 3000, sessions: 300 },
      { autodeskId: 'ann@x.com', product: 'maya', tokens: 3000, sessions: 300 },
    ];
    const order = (rows: { autodeskId: string; product: string }[]) => rows.map((r) => `${r.autodeskId} ${r.product}`);
    const expected = ['ann@x.com maya', 'ann@x.com revit', 'cid@x.com revit'];
    expect(order(flexAdvice(usage, even, price))).toEqual(expected);
    expect(order(flexAdvice([...usage].reverse(), even, price))).toEqual(expected);
  });

  it("counts a subscription's part of a day as a day covered, down to one day", () => {
    // Bought at noon on the year's last day and never launched: one day of the price, all of it saved.
    const late = {
      licenseId: 'l2',
      autodeskId: 'dana@x.com',
      product: 'revit',
      daysUsed: 0,
      startsAt: '2026-11-30T12:00:00.000Z',
      endsAt: '2027-11-30T12:00:00.000Z',
    };
    expect(subscriptionAdvice([late], even, price, year).map((r) => [r.daysCovered, r.subscriptionCost, r.flexCost, r.saving])).toEqual([
      [1, 233, 0, 233],
    ]);
  });
});

describe('money in minor units', () => {
  it('formats with the currency from integers', () => {
    expect(formatMoney(123_456, 'EUR')).toBe('€1,234.56');
    expect(formatMoney(5, 'EUR')).toBe('€0.05');
    expect(formatMoney(1234, 'JPY')).toBe('¥1,234');
    expect(formatMoney(-250, 'USD')).toBe('-$2.50');
    expect(formatMoney(0, 'USD')).toBe('$0.00');
    expect(formatMoney(100_000_000_000_07, 'USD')).toBe('$100,000,000,000.07');
    expect(plainMoney(123_456, 'EUR')).toBe('1234.56');
    expect(plainMoney(7, 'JPY')).toBe('7');
    expect(mulDivRound(1, 1, 2)).toBe(1);
    expect(mulDivRound(1, 1, 3)).toBe(0);
  });
});

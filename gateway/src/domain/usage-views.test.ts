import { describe, expect, it } from 'vitest';
import { utcDays } from './time';
import { daysUsedPerWeek, presetRange, productUsers, VIEW_STEP, weekOf, weeksBetween } from './usage-views';

const cell = (day: string, autodeskId: string, product: string, tokens: number) => ({ day, autodeskId, product, tokens });

describe('usage views (R15)', () => {
  it('presets end today: 30 days, or whole calendar months clamped to the end of a short month', () => {
    expect(presetRange('30d', '2026-03-15')).toEqual({ from: '2026-02-14', to: '2026-03-15' });
    expect(presetRange('3m', '2026-03-15')).toEqual({ from: '2025-12-16', to: '2026-03-15' });
    expect(presetRange('12m', '2026-03-15')).toEqual({ from: '2025-03-16', to: '2026-03-15' });
    // 31 May less 3 months is 28 February (no 31 February rolling into March).
    expect(presetRange('3m', '2026-05-31')).toEqual({ from: '2026-03-01', to: '2026-05-31' });
  });

  it('a range is read a UTC day at a time: cut at each midnight, the first and last days possibly partial', () => {
    expect(utcDays('2026-03-01T00:00:00.000Z', '2026-03-03T00:00:00.000Z')).toEqual([
      { from: '2026-03-01T00:00:00.000Z', to: '2026-03-02T00:00:00.000Z' },
      { from: '2026-03-02T00:00:00.000Z', to: '2026-03-03T00:00:00.000Z' },
    ]);
    expect(utcDays('2026-03-01T12:00:00.000Z', '2026-03-02T06:00:00.000Z')).toEqual([
      { from: '2026-03-01T12:00:00.000Z', to: '2026-03-02T00:00:00.000Z' },
      { from: '2026-03-02T00:00:00.000Z', to: '2026-03-02T06:00:00.000Z' },
    ]);
    expect(utcDays('2026-03-02T00:00:00.000Z', '2026-03-02T00:00:00.000Z')).toEqual([]);
  });

  it('views of more cells than a step give what they give in one go', () => {
    const many = Array.from({ length: VIEW_STEP * 2 + 7 }, (_, i) =>
      cell(`2026-03-${String(2 + (i % 14)).padStart(2, '0')}`, `u${i % 301}@x.com`, i % 2 ? 'revit' : 'autocad', 1 + (i % 3)),
    );
    const products = productUsers(many);
    expect(products.map((p) => p.tokens).reduce((a, b) => a + b, 0)).toBe(many.reduce((a, c) => a + c.tokens, 0));
    const { users } = daysUsedPerWeek(many, '2026-03-02', '2026-03-15');
    expect(users).toHaveLength(301);
    for (const u of users) expect(u.perWeek.reduce((a, b) => a + b, 0)).toBe(u.daysUsed);
  });

  it('weeks run Monday to Sunday', () => {
    expect(weekOf('2026-03-15')).toBe('2026-03-09'); // a Sunday
    expect(weekOf('2026-03-16')).toBe('2026-03-16'); // a Monday
    expect(weeksBetween('2026-03-01', '2026-03-16')).toEqual(['2026-02-23', '2026-03-02', '2026-03-09', '2026-03-16']);
  });

  it("counts each user's days used per week, a day with two products once, a refunded day not at all", () => {
    const cells = [
      cell('2026-03-02', 'a@x.com', 'autocad', 5),
      cell('2026-03-02', 'a@x.com', 'revit', 10),
      cell('2026-03-04', 'a@x.com', 'revit', 10),
      cell('2026-03-10', 'a@x.com', 'revit', 10),
      cell('2026-03-03', 'b@x.com', 'autocad', 0), // refunded in full
      cell('2026-03-11', 'b@x.com', 'autocad', 5),
    ];
    const { weeks, users } = daysUsedPerWeek(cells, '2026-03-02', '2026-03-15');
    expect(weeks).toEqual(['2026-03-02', '2026-03-09']);
    expect(users).toEqual([
      { autodeskId: 'a@x.com', tokens: 35, daysUsed: 3, perWeek: [2, 1] },
      { autodeskId: 'b@x.com', tokens: 5, daysUsed: 1, perWeek: [0, 1] },
    ]);
  });

  it('ranks users by days used, then by tokens, then by name', () => {
    const cells = [
      cell('2026-03-02', 'a@x.com', 'autocad', 5),
      cell('2026-03-03', 'a@x.com', 'autocad', 5),
      cell('2026-03-04', 'a@x.com', 'autocad', 5), // 3 days, 15 tokens
      cell('2026-03-02', 'b@x.com', 'autocad', 5), // 1 day, 5 tokens: below c, though b < c by name
      cell('2026-03-02', 'c@x.com', 'maya', 50), // 1 day, 50 tokens
      cell('2026-03-02', 'd@x.com', 'autocad', 5), // 1 day, 5 tokens: ties with b, then by name
    ];
    const { users } = daysUsedPerWeek(cells, '2026-03-02', '2026-03-08');
    expect(users.map((u) => [u.autodeskId, u.daysUsed, u.tokens])).toEqual([
      ['a@x.com', 3, 15],
      ['c@x.com', 1, 50],
      ['b@x.com', 1, 5],
      ['d@x.com', 1, 5],
    ]);
  });

  it('lists each product with its users, most tokens first', () => {
    const cells = [
      cell('2026-03-02', 'a@x.com', 'revit', 10),
      cell('2026-03-03', 'a@x.com', 'revit', 10),
      cell('2026-03-02', 'b@x.com', 'revit', 10),
      cell('2026-03-02', 'b@x.com', 'autocad', 5),
    ];
    expect(productUsers(cells)).toEqual([
      {
        product: 'revit',
        tokens: 30,
        users: [
          { autodeskId: 'a@x.com', tokens: 20, days: 2 },
          { autodeskId: 'b@x.com', tokens: 10, days: 1 },
        ],
      },
      { product: 'autocad', tokens: 5, users: [{ autodeskId: 'b@x.com', tokens: 5, days: 1 }] },
    ]);
  });

  it('orders by tokens whatever order the cells come in, ties by name; a single token counts, a refunded day does not', () => {
    const cells = [
      cell('2026-03-02', 'c@x.com', 'maya', 1),
      cell('2026-03-02', 'z@x.com', 'revit', 4),
      cell('2026-03-02', 'd@x.com', 'revit', 0),
      cell('2026-03-02', 'y@x.com', 'revit', 9),
      cell('2026-03-03', 'b@x.com', 'revit', 4),
    ];
    expect(productUsers(cells)).toEqual([
      {
        product: 'revit',
        tokens: 17,
        users: [
          { autodeskId: 'y@x.com', tokens: 9, days: 1 },
          { autodeskId: 'b@x.com', tokens: 4, days: 1 },
          { autodeskId: 'z@x.com', tokens: 4, days: 1 },
        ],
      },
      { product: 'maya', tokens: 1, users: [{ autodeskId: 'c@x.com', tokens: 1, days: 1 }] },
    ]);
  });
});

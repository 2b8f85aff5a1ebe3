import { describe, expect, it } from 'vitest';
import { utcDays } from './time';
import {
  byUse,
  daysUsedPerWeek,
  parseUserRankCursor,
  presetRange,
  productUsers,
  type UserRank,
  userRankCursor,
  VIEW_STEP,
  weekOf,
  weeksBetween,
} from './usage-views';

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

  it('pages continue exactly after the last user of the page before, through ties of days and tokens', () => {
    // 250 users, many tied on days and tokens (then ranked by ID), a few IDs in capitals among them.
    const cells = Array.from({ length: 250 }, (_, u) => u).flatMap((u) => {
      const id = u % 50 === 7 ? `U${String(u).padStart(3, '0')}@x.com` : `u${String(u).padStart(3, '0')}@x.com`;
      return Array.from({ length: 1 + (u % 3) }, (_, d) => cell(`2026-03-0${2 + d}`, id, u % 5 === 0 ? 'maya' : 'autocad', 5));
    });
    const all = daysUsedPerWeek(cells, '2026-03-02', '2026-03-08');
    expect(all).toMatchObject({ total: 250, before: 0, next: null });
    const seen: string[] = [];
    let after: UserRank | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = daysUsedPerWeek(cells, '2026-03-02', '2026-03-08', { after, limit: 100 });
      expect(page.total).toBe(250);
      expect(page.before).toBe(seen.length);
      seen.push(...page.users.map((u) => u.autodeskId));
      // Each page's users as the whole view has them, weeks included.
      expect(page.users).toEqual(all.users.slice(page.before, page.before + page.users.length));
      if (page.next === null) break;
      // Through the address and back, as the console's "Next page" carries it.
      after = parseUserRankCursor(userRankCursor(page.next)) ?? undefined;
    }
    expect(seen).toEqual(all.users.map((u) => u.autodeskId));
    expect(new Set(seen).size).toBe(250);
    for (let i = 1; i < all.users.length; i++) expect(byUse(all.users[i - 1] as UserRank, all.users[i] as UserRank)).toBeLessThan(0);
    // After the last user, or after someone ranked below everyone, a page is empty.
    expect(daysUsedPerWeek(cells, '2026-03-02', '2026-03-08', { after: all.users.at(-1), limit: 100 })).toMatchObject({
      users: [],
      before: 250,
      next: null,
    });
    expect(parseUserRankCursor('3.15')).toBeNull();
    expect(parseUserRankCursor('x.15.a@x.com')).toBeNull();
    expect(parseUserRankCursor('3.15.a.b@x.com')).toEqual({ daysUsed: 3, tokens: 15, autodeskId: 'a.b@x.com' });
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

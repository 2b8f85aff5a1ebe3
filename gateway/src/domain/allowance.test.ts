import { describe, expect, it } from 'vitest';
import {
  allowanceExpiry,
  allowanceProducts,
  type IssuedAllowance,
  judgeReport,
  paidDays,
  parseProvisionalId,
  type ReportedLaunch,
} from './allowance';

const HOUR = 3600_000;
const issuedAt = new Date('2026-03-15T10:00:00Z');
const allowance: IssuedAllowance = {
  id: 'alw_abc',
  autodeskId: 'ada@example.com',
  issuedAt: issuedAt.toISOString(),
  expiresAt: new Date(issuedAt.getTime() + 24 * HOUR).toISOString(),
  launches: 3,
  products: [
    { product: 'autocad', team: 'team-1' },
    { product: 'maya', team: null },
  ],
};
const report: ReportedLaunch = {
  autodeskId: 'ada@example.com',
  product: 'autocad',
  team: undefined,
  provisionalId: 'alw_abc.0',
  launchedAt: new Date(issuedAt.getTime() + HOUR),
};
const judge = (r: Partial<ReportedLaunch>, a: IssuedAllowance | undefined = allowance) => {
  const v = judgeReport({ ...report, ...r }, a);
  return v.accepted ? 'accepted' : v.reason;
};

describe('allowanceExpiry', () => {
  it('is the operator setting in hours, never more than 24, and none at 0 (provisional launches off)', () => {
    expect(allowanceExpiry(issuedAt, 24)?.getTime()).toBe(issuedAt.getTime() + 24 * HOUR);
    expect(allowanceExpiry(issuedAt, 6)?.getTime()).toBe(issuedAt.getTime() + 6 * HOUR);
    expect(allowanceExpiry(issuedAt, 48)?.getTime()).toBe(issuedAt.getTime() + 24 * HOUR);
    expect(allowanceExpiry(issuedAt, 0)).toBeNull();
  });
});

describe('allowanceProducts', () => {
  it('lists what a launch would get now: licensed products for any team, Flex ones per team that can pay a day (R4, R9)', () => {
    const balances: Record<string, number> = { rich: 100, poor: 3 };
    const listed = allowanceProducts(
      [
        { key: 'autocad', dailyRate: 7, via: ['flex'], teams: ['rich', 'poor'] },
        { key: 'maya', dailyRate: 9, via: ['subscription', 'flex'], teams: ['poor'] },
        { key: 'revit', dailyRate: 10, via: ['flex'], teams: ['poor'] },
      ],
      (t) => balances[t] ?? 0,
    );
    expect(listed).toEqual([
      { product: 'autocad', team: 'rich' },
      { product: 'maya', team: null },
    ]);
  });

  it('R4: a team holding exactly one day of the rate can pay it, so it is listed; a token less, not', () => {
    const balances: Record<string, number> = { exact: 7, short: 6 };
    const listed = allowanceProducts([{ key: 'autocad', dailyRate: 7, via: ['flex'], teams: ['exact', 'short'] }], (t) => balances[t] ?? 0);
    expect(listed).toEqual([{ product: 'autocad', team: 'exact' }]);
  });
});

describe('paidDays', () => {
  const until = new Date('2026-03-16T09:00:00Z');
  const balances: Record<string, number> = { rich: 100, poor: 3, poorer: 0 };
  const balanceOf = (t: string) => balances[t] ?? 0;

  it('R7: a product whose day is paid, through each team that grants it but cannot pay another, until the day ends', () => {
    const paid = paidDays(
      [
        { key: 'autocad', dailyRate: 7, via: ['flex'], teams: ['rich', 'poor', 'poorer'] },
        { key: 'revit', dailyRate: 10, via: ['flex'], teams: ['poor'] },
      ],
      balanceOf,
      (product) => (product === 'autocad' ? until : null),
    );
    // The rich team is in `products` (allowanceProducts); Revit has no day paid.
    expect(paid).toEqual([
      { product: 'autocad', team: 'poor', until },
      { product: 'autocad', team: 'poorer', until },
    ]);
  });

  it('nothing for a licensed product (listed for the whole allowance), nor when every team can pay, nor without a paid day', () => {
    const asked: string[] = [];
    const paidUntil = (product: string) => {
      asked.push(product);
      return until;
    };
    expect(paidDays([{ key: 'maya', dailyRate: 9, via: ['subscription', 'flex'], teams: ['poor'] }], balanceOf, paidUntil)).toEqual([]);
    expect(paidDays([{ key: 'autocad', dailyRate: 7, via: ['flex'], teams: ['rich'] }], balanceOf, paidUntil)).toEqual([]);
    expect(asked).toEqual([]);
    expect(paidDays([{ key: 'autocad', dailyRate: 7, via: ['flex'], teams: ['poor'] }], balanceOf, () => null)).toEqual([]);
  });
});

describe('parseProvisionalId', () => {
  it('reads ALLOWANCE.SLOT and nothing else', () => {
    expect(parseProvisionalId('alw_abc.0')).toEqual({ allowanceId: 'alw_abc', slot: 0 });
    expect(parseProvisionalId('alw_a-b_c.12')).toEqual({ allowanceId: 'alw_a-b_c', slot: 12 });
    for (const id of ['3f6c1a9e-2b4d-4c1e-9a7b-0c1d2e3f4a5b', 'alw_abc.', 'alw_abc.01', 'alw_abc.-1', 'alw.abc.1', '.1']) {
      expect(parseProvisionalId(id), id).toBeNull();
    }
  });
});

describe('judgeReport: a provisional launch is charged only under an allowance the gateway issued', () => {
  it('accepts a slot of the allowance, for a product it lists, launched while it lasted', () => {
    expect(judge({})).toBe('accepted');
    expect(judge({ provisionalId: 'alw_abc.2', product: 'maya', team: 'any-team' })).toBe('accepted');
    expect(judge({ team: 'team-1', launchedAt: issuedAt })).toBe('accepted');
  });

  it('refuses a launch without an allowance: an old random id, an unknown allowance, another user’s', () => {
    expect(judge({ provisionalId: '3f6c1a9e-2b4d-4c1e-9a7b-0c1d2e3f4a5b' }, undefined)).toMatch(/not made under an offline allowance/);
    expect(judge({ provisionalId: 'alw_zzz.0' }, undefined)).toMatch(/not made under an offline allowance/);
    expect(judge({ autodeskId: 'eve@example.com' })).toMatch(/not made under an offline allowance/);
    expect(judge({ provisionalId: 'alw_zzz.0' })).toMatch(/not made under an offline allowance/);
  });

  it('refuses an invented slot beyond the allowance’s launches', () => {
    expect(judge({ provisionalId: 'alw_abc.3' })).toMatch(/allows 3 provisional launches/);
    expect(judge({ provisionalId: 'alw_abc.999' })).toMatch(/allows 3 provisional launches/);
  });

  it('refuses a product it does not list, or another team than the one listed', () => {
    expect(judge({ product: 'revit' })).toMatch(/does not list revit/);
    expect(judge({ team: 'team-2' })).toMatch(/for another team/);
  });

  it('R7: accepts a launch under a day already paid for only before that day ends, whatever else the allowance lists', () => {
    const until = new Date(issuedAt.getTime() + 5 * HOUR).toISOString();
    const paid: IssuedAllowance = { ...allowance, products: [...allowance.products, { product: 'revit', team: 'team-2', until }] };
    const at = (ms: number) => new Date(issuedAt.getTime() + ms);
    expect(judge({ product: 'revit', team: 'team-2', launchedAt: at(5 * HOUR - 1000) }, paid)).toBe('accepted');
    expect(judge({ product: 'revit', launchedAt: at(HOUR) }, paid)).toBe('accepted');
    for (const team of ['team-2', undefined]) {
      expect(judge({ product: 'revit', team, launchedAt: at(5 * HOUR) }, paid)).toMatch(/only for the day already paid for, until/);
      expect(judge({ product: 'revit', team, launchedAt: at(20 * HOUR) }, paid)).toMatch(/dated after it/);
    }
    expect(judge({ product: 'revit', team: 'team-1', launchedAt: at(HOUR) }, paid)).toMatch(/for another team/);
    // AutoCAD listed for the whole allowance through team-1 and for a paid day through team-2: the team decides.
    const both: IssuedAllowance = { ...allowance, products: [...allowance.products, { product: 'autocad', team: 'team-2', until }] };
    expect(judge({ team: 'team-1', launchedAt: at(20 * HOUR) }, both)).toBe('accepted');
    expect(judge({ team: 'team-2', launchedAt: at(20 * HOUR) }, both)).toMatch(/only for the day already paid for/);
  });

  it('refuses a launch dated before the allowance or at its end and after', () => {
    expect(judge({ launchedAt: new Date(issuedAt.getTime() - 1000) })).toMatch(/dated outside its offline allowance/);
    expect(judge({ launchedAt: new Date(Date.parse(allowance.expiresAt)) })).toMatch(/dated outside/);
  });
});

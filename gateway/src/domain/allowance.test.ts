import { describe, expect, it } from 'vitest';
import {
  allowanceExpiry,
  allowanceProducts,
  type IssuedAllowance,
  judgeReport,
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

  it('refuses a launch dated before the allowance or at its end and after', () => {
    expect(judge({ launchedAt: new Date(issuedAt.getTime() - 1000) })).toMatch(/dated outside its offline allowance/);
    expect(judge({ launchedAt: new Date(Date.parse(allowance.expiresAt)) })).toMatch(/dated outside/);
  });
});

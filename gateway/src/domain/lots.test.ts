import { describe, expect, it } from 'vitest';
import { balanceOf, isExpired, type LotState, lotExpiry, planDraw } from './lots';

const now = new Date('2026-06-01T12:00:00Z');
const lot = (id: string, tokens: number, remaining: number, expiresAt: string): LotState => ({ id, tokens, remaining, expiresAt });

describe('R1 lot expiry', () => {
  it('R1: bought 2026-03-15T10:00Z, last usable just before 2027-03-15T10:00Z', () => {
    const expires = lotExpiry(new Date('2026-03-15T10:00:00Z'));
    expect(expires.toISOString()).toBe('2027-03-15T10:00:00.000Z');
    const l = lot('a', 10, 10, expires.toISOString());
    expect(isExpired(l, new Date('2027-03-15T09:59:59.999Z'))).toBe(false);
    expect(isExpired(l, new Date('2027-03-15T10:00:00.000Z'))).toBe(true);
  });

  it('R1: a lot bought on 29 February expires on 1 March of the next year', () => {
    expect(lotExpiry(new Date('2028-02-29T08:00:00Z')).toISOString()).toBe('2029-03-01T08:00:00.000Z');
  });
});

describe('R2 oldest first, R4 no overdraft', () => {
  it('R2: draws the lot expiring first, spanning into the next', () => {
    const plan = planDraw([lot('new', 20, 20, '2027-05-01T00:00:00Z'), lot('old', 5, 5, '2026-09-01T00:00:00Z')], 8, now);
    expect(plan).toEqual({
      ok: true,
      allocations: [
        { lotId: 'old', tokens: 5 },
        { lotId: 'new', tokens: 3 },
      ],
    });
  });

  it('R2: on a tie of expiry, the smaller lot first', () => {
    const same = '2027-01-01T00:00:00Z';
    const plan = planDraw([lot('big', 100, 100, same), lot('small', 10, 4, same)], 6, now);
    expect(plan).toEqual({
      ok: true,
      allocations: [
        { lotId: 'small', tokens: 4 },
        { lotId: 'big', tokens: 2 },
      ],
    });
  });

  it('R2: expired tokens are never drawn and do not count in the balance', () => {
    const lots = [lot('gone', 50, 50, '2026-06-01T12:00:00Z'), lot('live', 10, 10, '2026-12-01T00:00:00Z')];
    expect(balanceOf(lots, now)).toBe(10);
    expect(planDraw(lots, 7, now)).toEqual({ ok: true, allocations: [{ lotId: 'live', tokens: 7 }] });
    expect(planDraw(lots, 11, now)).toEqual({ ok: false, available: 10 });
  });

  it('R4: short by one token refuses the whole charge', () => {
    expect(planDraw([lot('a', 9, 9, '2027-01-01T00:00:00Z')], 10, now)).toEqual({ ok: false, available: 9 });
  });

  it('refuses amounts that are not positive whole tokens', () => {
    expect(() => planDraw([], 0, now)).toThrow(RangeError);
    expect(() => planDraw([], 1.5, now)).toThrow(RangeError);
  });
});

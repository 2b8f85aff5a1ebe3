import { describe, expect, it } from 'vitest';
import { balanceOf, drawOrder, isExpired, type LotState, lotExpiry, planDraw } from './lots';

const now = new Date('2026-06-01T12:00:00Z');
const lot = (id: string, tokens: number, remaining: number, expiresAt: string, purchasedAt = '2026-01-01T00:00:00Z'): LotState => ({
  id,
  tokens,
  remaining,
  purchasedAt,
  expiresAt,
});
const order = (lots: LotState[]) => drawOrder(lots, now).map((l) => l.id);

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

  it('R2 tie level 1: the earliest expiry goes first, however big, late-bought or high its id', () => {
    const early = lot('z', 500, 500, '2026-09-01T00:00:00Z', '2025-12-31T00:00:00Z');
    const late = lot('a', 5, 5, '2026-09-01T00:00:01Z', '2025-01-01T00:00:00Z');
    expect(order([late, early])).toEqual(['z', 'a']);
    expect(order([early, late])).toEqual(['z', 'a']);
  });

  it('R2 tie level 2: on equal expiry the smaller lot (tokens created with) goes first, whatever it holds, its purchase or its id', () => {
    const same = '2027-01-01T00:00:00Z';
    // `tokens` is the size the lot was created with, not what remains in it.
    const small = lot('z', 10, 10, same, '2026-06-01T00:00:00Z');
    const big = lot('a', 11, 1, same, '2026-01-01T00:00:00Z');
    expect(order([big, small])).toEqual(['z', 'a']);
    expect(planDraw([big, small], 11, now)).toEqual({
      ok: true,
      allocations: [
        { lotId: 'z', tokens: 10 },
        { lotId: 'a', tokens: 1 },
      ],
    });
  });

  it('R2 tie level 3: equal expiry and size, the lot bought first goes first (29 February and 1 March both expire on 1 March)', () => {
    const leap = new Date('2028-02-29T08:00:00Z');
    const march = new Date('2028-03-01T08:00:00Z');
    const expires = lotExpiry(leap).toISOString();
    expect(lotExpiry(march).toISOString()).toBe(expires);
    const now2028 = new Date('2028-06-01T00:00:00Z');
    const bought1st = lot('lot_z', 20, 20, expires, leap.toISOString());
    const bought2nd = lot('lot_a', 20, 20, expires, march.toISOString());
    expect(drawOrder([bought2nd, bought1st], now2028).map((l) => l.id)).toEqual(['lot_z', 'lot_a']);
    expect(planDraw([bought2nd, bought1st], 25, now2028)).toEqual({
      ok: true,
      allocations: [
        { lotId: 'lot_z', tokens: 20 },
        { lotId: 'lot_a', tokens: 5 },
      ],
    });
  });

  it('R2 tie level 3: purchase instants compare as instants, not as text', () => {
    const same = '2027-01-01T00:00:00Z';
    // 09:00+02:00 is 07:00Z, before 08:00Z; as text "2026-01-01T09" sorts after "2026-01-01T08".
    const first = lot('b', 20, 20, same, '2026-01-01T09:00:00+02:00');
    const second = lot('a', 20, 20, same, '2026-01-01T08:00:00.000Z');
    expect(order([second, first])).toEqual(['b', 'a']);
  });

  it('R2 tie level 4: all else equal, the lower id in code-unit (byte) order, not a locale collation', () => {
    const same = '2027-01-01T00:00:00Z';
    const tie = (id: string) => lot(id, 20, 20, same, '2026-01-01T00:00:00Z');
    // Pairs a locale collation orders the other way round: the test tells the two apart.
    expect('a_'.localeCompare('aB')).toBeLessThan(0);
    expect('a'.localeCompare('Z')).toBeLessThan(0);
    expect(order([tie('a_'), tie('aB')])).toEqual(['aB', 'a_']);
    expect(order([tie('a'), tie('Z')])).toEqual(['Z', 'a']);
    // Lot ids are base64url: '-' < digits < upper case < '_' < lower case, byte by byte.
    expect(order([tie('lot_x'), tie('lot__'), tie('lot_A'), tie('lot_0'), tie('lot_-')])).toEqual([
      'lot_-',
      'lot_0',
      'lot_A',
      'lot__',
      'lot_x',
    ]);
  });

  it('R2: the order is total: the input order never changes the draw', () => {
    const same = '2027-01-01T00:00:00Z';
    const lots = [
      lot('aB', 20, 20, same, '2026-01-01T00:00:00Z'),
      lot('a_', 20, 20, same, '2026-01-01T00:00:00Z'),
      lot('Z', 20, 20, same, '2026-01-01T00:00:01Z'),
      lot('y', 19, 19, same, '2026-02-01T00:00:00Z'),
      lot('x', 50, 50, '2026-12-31T00:00:00Z'),
    ];
    const expected = ['x', 'y', 'aB', 'a_', 'Z'];
    for (let i = 0; i < lots.length; i++) {
      const rotated = [...lots.slice(i), ...lots.slice(0, i)];
      expect(order(rotated)).toEqual(expected);
      expect(order([...rotated].reverse())).toEqual(expected);
    }
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

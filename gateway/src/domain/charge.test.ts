import { describe, expect, it } from 'vitest';
import { type ChargeFacts, decideCharge } from './charge';
import type { LotState } from './lots';

const now = new Date('2026-06-01T12:00:00Z');
const lot = (id: string, tokens: number, remaining: number, expiresAt: string): LotState => ({
  id,
  tokens,
  remaining,
  purchasedAt: '2025-12-01T00:00:00Z',
  expiresAt,
});
const facts = (over: Partial<ChargeFacts> = {}): ChargeFacts => ({
  open: undefined,
  product: { name: 'AutoCAD', dailyRate: 7 },
  lots: [lot('a', 100, 100, '2026-12-01T00:00:00Z')],
  movedOut: 0,
  alerted: { lowBalance: false, expiringLots: new Set() },
  ...over,
});

describe('decideCharge: one Flex launch', () => {
  it('R7: an open session answers the launch whatever else holds (no product, no tokens)', () => {
    expect(decideCharge(facts({ open: { id: 's1' }, product: undefined, lots: [] }), now)).toEqual({ kind: 'found', sessionId: 's1' });
  });

  it('a product gone from the catalog is refused, not charged at some rate', () => {
    expect(decideCharge(facts({ product: undefined }), now)).toEqual({ kind: 'unknown-product' });
  });

  it('R2: every expired lot still holding tokens leaves first, even one holding a single token; emptied ones do not', () => {
    const lots = [
      lot('gone', 50, 1, '2026-05-01T00:00:00Z'),
      lot('empty', 1000, 0, '2026-05-02T00:00:00Z'),
      lot('a', 100, 100, '2026-12-01T00:00:00Z'),
    ];
    expect(decideCharge(facts({ lots }), now)).toEqual({ kind: 'expire-first', lotIds: ['gone'] });
    // An emptied lot past its expiry counts in neither the balance nor R19's basis (1,100 would put the line at 220).
    expect(decideCharge(facts({ lots: lots.slice(1) }), now)).toMatchObject({ kind: 'open', balanceAfter: 93, crossesAlert: false });
  });

  it('R4: short by one token is insufficient, naming what is available; exactly the rate opens and leaves 0', () => {
    expect(decideCharge(facts({ lots: [lot('a', 10, 6, '2026-12-01T00:00:00Z')] }), now)).toEqual({
      kind: 'insufficient',
      available: 6,
      productName: 'AutoCAD',
      rate: 7,
    });
    expect(decideCharge(facts({ lots: [lot('a', 10, 7, '2026-12-01T00:00:00Z')] }), now)).toMatchObject({ kind: 'open', balanceAfter: 0 });
  });

  it('R2 + R8: draws the lot expiring first at the rate in force, and says the balance it leaves', () => {
    const lots = [lot('late', 100, 100, '2027-03-01T00:00:00Z'), lot('soon', 100, 4, '2026-12-01T00:00:00Z')];
    expect(decideCharge(facts({ lots }), now)).toEqual({
      kind: 'open',
      rate: 7,
      productName: 'AutoCAD',
      allocations: [
        { lotId: 'soon', tokens: 4 },
        { lotId: 'late', tokens: 3 },
      ],
      balanceAfter: 97,
      crossesAlert: false,
    });
  });

  describe('R19: whether the charge may cross a line not yet recorded', () => {
    // 100 bought; the line is 20: 27 left drops to 20 (not below), 26 to 19 (below).
    const left = (n: number) => [lot('a', 100, n, '2027-03-01T00:00:00Z')];

    it('only a balance below a fifth of what was bought is low, and only once', () => {
      expect(decideCharge(facts({ lots: left(27) }), now)).toMatchObject({ balanceAfter: 20, crossesAlert: false });
      expect(decideCharge(facts({ lots: left(26) }), now)).toMatchObject({ balanceAfter: 19, crossesAlert: true });
      const recorded = { lowBalance: true, expiringLots: new Set<string>() };
      expect(decideCharge(facts({ lots: left(26), alerted: recorded }), now)).toMatchObject({ crossesAlert: false });
    });

    it('tokens moved out leave the basis: 60 bought and kept, 11 left after the charge is below 12', () => {
      expect(decideCharge(facts({ lots: left(18) }), now)).toMatchObject({ balanceAfter: 11, crossesAlert: true });
      expect(decideCharge(facts({ lots: left(18), movedOut: -40 }), now)).toMatchObject({ crossesAlert: true });
      expect(decideCharge(facts({ lots: left(20), movedOut: -40 }), now)).toMatchObject({ balanceAfter: 13, crossesAlert: false });
    });

    it('a lot within 90 days of expiry crosses once per lot, and not once it is drawn empty', () => {
      const soon = lot('soon', 10, 10, '2026-08-01T00:00:00Z');
      const far = lot('far', 1000, 1000, '2027-06-01T00:00:00Z');
      expect(decideCharge(facts({ lots: [soon, far] }), now)).toMatchObject({ crossesAlert: true });
      const announced = { lowBalance: false, expiringLots: new Set(['soon']) };
      expect(decideCharge(facts({ lots: [soon, far], alerted: announced }), now)).toMatchObject({ crossesAlert: false });
      const drained = lot('soon', 10, 7, '2026-08-01T00:00:00Z');
      expect(decideCharge(facts({ lots: [drained, far] }), now)).toMatchObject({ balanceAfter: 1000, crossesAlert: false });
    });
  });
});

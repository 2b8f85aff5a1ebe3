import { describe, expect, it } from 'vitest';
import {
  decideEnd,
  type EndFacts,
  idleCredit,
  isFreeClose,
  isOpen,
  machinesOf,
  needsSettling,
  openingLease,
  paidUntil,
  refundAllowed,
  runningMachines,
  sessionWindow,
} from './sessions';

describe('R6/R7 usage sessions', () => {
  const { startsAt, endsAt } = sessionWindow(new Date('2026-06-01T08:00:00Z'));
  const s = { startsAt: startsAt.toISOString(), endsAt: endsAt.toISOString(), endedAt: null };

  it('R6: a session lasts 24 hours', () => {
    expect(s.endsAt).toBe('2026-06-02T08:00:00.000Z');
  });

  it('R7: open until the 24 hours run out or the product closes', () => {
    expect(isOpen(s, new Date('2026-06-02T07:59:59Z'))).toBe(true);
    expect(isOpen(s, new Date('2026-06-02T08:00:00Z'))).toBe(false);
    expect(isOpen({ ...s, endedAt: '2026-06-01T09:00:00Z' }, new Date('2026-06-01T10:00:00Z'))).toBe(false);
  });

  it('R7a: closing within 5 minutes is free, after that it is not', () => {
    expect(isFreeClose(s, new Date('2026-06-01T08:05:00Z'))).toBe(true);
    expect(isFreeClose(s, new Date('2026-06-01T08:05:01Z'))).toBe(false);
  });
});

describe('R7a leases', () => {
  const start = new Date('2026-06-01T08:00:00Z');
  const { endsAt } = sessionWindow(start);

  it('R7a: a session opened now gets a lease of 10 minutes from its start, unsettled', () => {
    expect(openingLease(start, endsAt, start)).toEqual({ settled: false, expiresAt: new Date('2026-06-01T08:10:00Z') });
  });

  it('R7a: a launch reported within its free window gets the lease from its own start, not from the report', () => {
    expect(openingLease(start, endsAt, new Date('2026-06-01T08:04:00Z'))).toEqual({
      settled: false,
      expiresAt: new Date('2026-06-01T08:10:00Z'),
    });
  });

  it('R7a: a launch reported after its free window is settled at once, to the end of its session', () => {
    expect(openingLease(start, endsAt, new Date('2026-06-01T08:05:01Z'))).toEqual({ settled: true, expiresAt: endsAt });
  });

  it('R7a: a lease never outlives its session', () => {
    const shortSession = new Date('2026-06-01T08:03:00Z');
    expect(openingLease(start, shortSession, start).expiresAt).toEqual(shortSession);
  });

  it('R7a: only a session neither settled nor voided settles, and only once its free window is over', () => {
    const fresh = { startsAt: start.toISOString(), settledAt: null, endedAt: null };
    expect(needsSettling(fresh, new Date('2026-06-01T08:05:00Z'))).toBe(false);
    expect(needsSettling(fresh, new Date('2026-06-01T08:05:01Z'))).toBe(true);
    expect(needsSettling({ ...fresh, settledAt: '2026-06-01T08:06:00Z' }, new Date('2026-06-01T09:00:00Z'))).toBe(false);
    expect(needsSettling({ ...fresh, endedAt: '2026-06-01T08:01:00Z' }, new Date('2026-06-01T09:00:00Z'))).toBe(false);
  });
});

describe('R7/R7a: until when a day is paid for (the offline allowance lists it until then)', () => {
  const start = '2026-06-01T08:00:00.000Z';
  const s = { startsAt: start, endsAt: '2026-06-02T08:00:00.000Z', endedAt: null, settledAt: null };
  const at = (iso: string) => new Date(iso);

  it('not while a close may still refund it: within the free 5 minutes of a session not settled', () => {
    expect(paidUntil(s, at('2026-06-01T08:00:00Z'))).toBeNull();
    expect(paidUntil(s, at('2026-06-01T08:05:00Z'))).toBeNull();
  });

  it('to the session’s end once no close can refund it: its free window over, or settled', () => {
    expect(paidUntil(s, at('2026-06-01T08:05:01Z'))).toEqual(at(s.endsAt));
    expect(paidUntil({ ...s, settledAt: '2026-06-01T08:01:00Z' }, at('2026-06-01T08:02:00Z'))).toEqual(at(s.endsAt));
    // R7b: an end moved later by idle time is the end.
    expect(paidUntil({ ...s, endsAt: '2026-06-02T09:00:00.000Z' }, at('2026-06-02T08:30:00Z'))).toEqual(at('2026-06-02T09:00:00Z'));
  });

  it('never for a session that is void (refunded) or over', () => {
    expect(paidUntil({ ...s, endedAt: '2026-06-01T08:02:00Z' }, at('2026-06-01T09:00:00Z'))).toBeNull();
    expect(paidUntil({ ...s, settledAt: start }, at(s.endsAt))).toBeNull();
  });
});

describe('R7a machines and refunds', () => {
  const now = new Date('2026-06-01T08:02:00Z');
  const facts = (over: Partial<EndFacts> = {}, session: Partial<EndFacts['session']> = {}): EndFacts => ({
    session: { startsAt: '2026-06-01T08:00:00.000Z', settledAt: null, endedAt: null, charged: 7, machine: 'A', ...session },
    machines: [],
    machine: 'A',
    lastRefundAt: null,
    now,
    ...over,
  });

  it('R7a: the opening machine counts as running until it has a row of its own', () => {
    expect(machinesOf('A', [{ machine: 'B', endedAt: null }])).toEqual([
      { machine: 'A', endedAt: null },
      { machine: 'B', endedAt: null },
    ]);
    expect(machinesOf(null, [])).toEqual([{ machine: '', endedAt: null }]);
    expect(runningMachines('A', [{ machine: 'A', endedAt: '2026-06-01T08:01:00Z' }])).toEqual(new Set());
  });

  it('R7a: the only machine closing within the window refunds', () => {
    expect(decideEnd(facts())).toEqual({ kind: 'refund' });
  });

  it('R7a: a close while another machine uses the session refunds nothing', () => {
    expect(decideEnd(facts({ machines: [{ machine: 'B', endedAt: null }] }))).toEqual({ kind: 'machine-closed' });
    // B closes first: A, the opener, still runs.
    expect(decideEnd(facts({ machine: 'B', machines: [{ machine: 'B', endedAt: null }] }))).toEqual({ kind: 'machine-closed' });
  });

  it('R7a: the last machine to close within the window refunds, whichever it is', () => {
    const aClosed = [
      { machine: 'A', endedAt: '2026-06-01T08:00:08Z' },
      { machine: 'B', endedAt: null },
    ];
    expect(decideEnd(facts({ machine: 'B', machines: aClosed }))).toEqual({ kind: 'refund' });
  });

  it('R7a: a machine that never used the session cannot close it for the others', () => {
    expect(decideEnd(facts({ machine: 'stranger' }))).toEqual({ kind: 'machine-closed' });
  });

  it('R7a: after the window, or once settled, the day stays paid', () => {
    expect(decideEnd(facts({ now: new Date('2026-06-01T08:05:01Z') }))).toEqual({ kind: 'paid' });
    expect(decideEnd(facts({}, { settledAt: '2026-06-01T08:01:00Z' }))).toEqual({ kind: 'paid' });
  });

  it('R7a: a quick close within 24 hours of the last refund of (user, product) is not refunded', () => {
    expect(decideEnd(facts({ lastRefundAt: '2026-05-31T08:03:00Z' }))).toEqual({ kind: 'refund-capped' });
    expect(decideEnd(facts({ lastRefundAt: '2026-05-31T08:02:00Z' }))).toEqual({ kind: 'refund' });
    expect(refundAllowed(null, now)).toBe(true);
    expect(refundAllowed('2026-06-01T07:00:00Z', now)).toBe(false);
  });

  it('R7a: the cap does not stop a close that refunds nothing anyway', () => {
    expect(decideEnd(facts({ lastRefundAt: '2026-06-01T07:00:00Z', machines: [{ machine: 'B', endedAt: null }] }))).toEqual({
      kind: 'machine-closed',
    });
  });
});

describe('R7b: idle time is not charged', () => {
  const start = '2026-12-01T08:00:00.000Z';
  const base = { startsAt: start, endsAt: '2026-12-02T08:00:00.000Z', lastSeenAt: '2026-12-01T12:00:00.000Z' };
  const at = (iso: string) => new Date(iso);
  it('a stretch of 15 minutes or more moves the end by as much; a shorter one counts for nothing', () => {
    expect(idleCredit(base, 30 * 60_000, at('2026-12-01T12:30:00.000Z'))).toBe(30 * 60_000);
    expect(idleCredit(base, 14 * 60_000, at('2026-12-01T12:30:00.000Z'))).toBe(0);
    // Exactly 15 minutes is "15 minutes or more"; a millisecond less is not.
    expect(idleCredit(base, 15 * 60_000, at('2026-12-01T12:30:00.000Z'))).toBe(15 * 60_000);
    expect(idleCredit(base, 15 * 60_000 - 1, at('2026-12-01T12:30:00.000Z'))).toBe(0);
  });
  it('cannot reach further back than the previous contact plus 15 minutes', () => {
    // Five minutes since the last heartbeat: a stretch begun at most 15 minutes before it.
    expect(idleCredit(base, 5 * 3600_000, at('2026-12-01T12:05:00.000Z'))).toBe(20 * 60_000);
  });
  it('a session never ends more than a day later than the day it paid for, however often it says idle', () => {
    const nearCap = { ...base, endsAt: '2026-12-03T07:50:00.000Z', lastSeenAt: '2026-12-02T20:00:00.000Z' };
    expect(idleCredit(nearCap, 3 * 3600_000, at('2026-12-02T23:00:00.000Z'))).toBe(10 * 60_000);
    const capped = { ...base, endsAt: '2026-12-03T08:00:00.000Z' };
    expect(idleCredit(capped, 3600_000, at('2026-12-02T23:00:00.000Z'))).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { isFreeClose, isOpen, sessionWindow } from './sessions';

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

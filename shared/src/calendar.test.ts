import { describe, expect, it } from 'vitest';
import { isCalendarInstant } from './calendar';

describe('dates that exist on the calendar', () => {
  it('accepts days and instants as the contract writes them', () => {
    for (const s of [
      '2026-03-15',
      '2026-03-15T10:00:00Z',
      '2026-03-15T10:00Z',
      '2026-03-15T10:00:00.123Z',
      '2024-02-29',
      '2026-03-15T10:00:00+02:00',
      '2026-12-31T23:59:59-0530',
      // The first and last of everything: New Year's Day, the first of a month, the widest offsets.
      '2026-01-01',
      '2026-03-01T00:00:00Z',
      '2026-01-01T00:00:00+18:00',
      '2026-03-15T10:00:00-18:59',
    ]) {
      expect(isCalendarInstant(s), s).toBe(true);
    }
  });
  it('refuses what Date.parse would roll over: 30 February, 29 February of a common year, 31 April, hour 24, minute 60', () => {
    for (const s of [
      '2026-02-30T00:00:00Z',
      '2026-02-30',
      '2026-02-29',
      '2026-04-31',
      '2026-13-01',
      '2026-00-10',
      '2026-03-00',
      '2026-03-15T24:00:00Z',
      '2026-03-15T10:60:00Z',
      '2026-03-15T10:00:60Z',
      '2026-03-15T10:00:00+19:00',
    ]) {
      expect(isCalendarInstant(s), s).toBe(false);
    }
  });
  it('refuses other shapes', () => {
    for (const s of ['15/03/2026', '2026-3-15', 'now', '', '2026-03-15T10', '2026-03-15 10:00:00Z'])
      expect(isCalendarInstant(s), s).toBe(false);
  });
});

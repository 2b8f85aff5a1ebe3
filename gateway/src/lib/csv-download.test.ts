import { describe, expect, it } from 'vitest';
import { prefersCsv } from './csv-download';

describe('Accept: a report answers CSV when the caller prefers it', () => {
  it('text/csv named, with a weight above 0 and not below JSON', () => {
    expect(prefersCsv('text/csv')).toBe(true);
    expect(prefersCsv('TEXT/CSV; charset=utf-8')).toBe(true);
    expect(prefersCsv('application/json;q=0.5, text/csv')).toBe(true);
    expect(prefersCsv('text/csv;q=0.9, application/json;q=0.9')).toBe(true);
    // Refused outright, or below JSON: JSON (a helper's review found `text/csv;q=0` answered CSV).
    expect(prefersCsv('text/csv;q=0, application/json')).toBe(false);
    expect(prefersCsv('text/csv;q=0.5, application/json')).toBe(false);
    expect(prefersCsv('application/json')).toBe(false);
    expect(prefersCsv('*/*')).toBe(false);
    expect(prefersCsv('')).toBe(false);
    expect(prefersCsv('text/csvx')).toBe(false);
  });
});

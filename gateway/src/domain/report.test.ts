import { describe, expect, it } from 'vitest';
import { addUsage, byCodePoint, reportRange, splitName, type UsageSum, usageRowsOf } from './report';

describe('a report range (R15)', () => {
  it('a `to` day of 9999-12-31, the last the API takes, still ends after its from: ranges are compared as ISO text', () => {
    const now = new Date('2026-12-06T12:00:00Z');
    const { from, to } = reportRange('9999-12-30', '9999-12-31', now);
    expect([from, to]).toEqual(['9999-12-30T00:00:00.000Z', '9999-12-31T23:59:59.999Z']);
    expect(from < to).toBe(true);
    expect(reportRange('2026-03-01', '2026-03-31', now)).toEqual({ from: '2026-03-01T00:00:00.000Z', to: '2026-04-01T00:00:00.000Z' });
  });
});

describe("the usage export's name columns (R15, Flex's export)", () => {
  it('splits at the first space: one word is a first name alone, and a blank name leaves both empty', () => {
    expect(splitName('Ada King Lovelace')).toEqual({ first: 'Ada', last: 'King Lovelace' });
    expect(splitName('  Cher ')).toEqual({ first: 'Cher', last: '' });
    expect(splitName('   ')).toEqual({ first: '', last: '' });
  });
});

describe('a usage report added up from parts (R15)', () => {
  it("orders keys as SQLite's binary collation does: by UTF-8 bytes, astral characters after the rest of the BMP", () => {
    const keys = ['b@x', 'B@x', 'a.b@x', 'ab@x', 'a_b@x', 'zo\u00eb@x', '\u{1F600}@x', '\uFB01@x', '\uE000@x', 'a', ''];
    const bytes = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect([...keys].sort(byCodePoint)).toEqual(bytes);
    // UTF-16 code units put the emoji (a surrogate pair) before U+E000 and U+FB01.
    expect([...keys].sort()).not.toEqual(bytes);
  });

  it("adds each key's tokens and sessions across parts, in key order", () => {
    const sums = new Map<string, UsageSum>();
    addUsage(sums, [
      { key: 'b', tokens: 7, sessions: 1 },
      { key: 'c', tokens: 10, sessions: 1 },
    ]);
    addUsage(sums, [
      { key: 'a', tokens: 9, sessions: 1 },
      { key: 'b', tokens: -7, sessions: -1 },
    ]);
    addUsage(sums, [{ key: 'b', tokens: 11, sessions: 1 }]);
    expect(usageRowsOf(sums)).toEqual([
      { key: 'a', tokens: 9, sessions: 1 },
      { key: 'b', tokens: 11, sessions: 1 },
      { key: 'c', tokens: 10, sessions: 1 },
    ]);
  });
});
